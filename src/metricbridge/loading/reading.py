"""Read a CSV or Parquet file into an in-memory DuckDB table, refusing what is not a usable table.

Only DuckDB reads the data (no pandas round trip), so a 1 GB file costs its columns in DuckDB's memory
and nothing more. Rows keep file order, so a row's spreadsheet number is its ``rowid + 2`` (the header
is row 1).
"""

from __future__ import annotations

import csv
import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from metricbridge.errors import InputError
from metricbridge.loading.builders import Progress

__all__ = ["Table", "read_table", "TABLE", "SPREADSHEET_ROW"]

TABLE = "rows"
SPREADSHEET_ROW = "(rowid + 2)"  # the header is row 1, the first data row is row 2
NULL_STRINGS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
_SNIFF_BYTES = 64 * 1024
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
                      r"UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$")
# types whose values come back to Python as values that bind back as parameters and compare equal
_PLAIN = re.compile(r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
                    r"FLOAT|DOUBLE|VARCHAR)$")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Table:
    """A file read into table ``rows`` of its own DuckDB connection; ``name`` is what messages call it."""

    name: str
    con: duckdb.DuckDBPyConnection
    columns: tuple[str, ...]
    types: dict[str, str]
    n_rows: int
    format: str

    def is_numeric(self, column: str) -> bool:
        return bool(_NUMERIC.match(self.types[column]))

    def is_plain(self, column: str) -> bool:
        """Whether the column's values can be bound back as parameters (matched by value, not as text)."""
        return bool(_PLAIN.match(self.types[column]))


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text has NULs but is text
        return False
    if b"\x00" in head:
        return True
    controls = sum(byte < 32 and byte not in (9, 10, 13) for byte in head)
    return controls > max(8, len(head) // 100)


def _kind_of_binary(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive or an Excel workbook (.xlsx); save the sheet as CSV (File > Save as > CSV)"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Excel workbook (.xls); save the sheet as CSV"
    if head.startswith(b"%PDF"):
        return "a PDF document; export the table as CSV"
    return "binary data, not text; save the table as CSV (comma, semicolon or tab separated) or Parquet"


def _header_names(head: bytes, delimiter: str, quote_char: str, encoding: str) -> list[str]:
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote_char or '"')
    return next(reader, [])


def _check_header(names: list[str], file: str) -> None:
    if not names or all(not name.strip() for name in names):
        raise InputError(f"{file}: the first row is empty; it must hold the column names.")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(
                f"{file}: the column name {name!r} appears twice (columns {seen[name]} and {position}). "
                "Give every column a different name in the header row and upload again.")
        seen[name] = position
    blank = [position for position, name in enumerate(names, start=1) if not name.strip()]
    if blank:
        raise InputError(f"{file}: column {blank[0]} has no name in the header row. Name it and upload again.")
    if all(re.fullmatch(r"\s*-?[\d.]+([eE][-+]?\d+)?\s*", name) for name in names):
        raise InputError(
            f"{file}: the first row holds numbers ({', '.join(names[:4])}), not column names. Add a header "
            "row that names each column (for example: label,score) and upload again.")


def _raise_ragged(path: Path, file: str, delimiter: str, quote_char: str, encoding: str, expected: int) -> None:
    """A row with more or fewer cells than the header confuses the sniffer: find it and say so."""
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar=quote_char)
        for row_number, cells in enumerate(reader, start=1):
            if cells and len(cells) != expected:
                raise InputError(
                    f"{file}: row {row_number} has {len(cells)} cells ({delimiter.join(cells)[:60]!r}) but the "
                    f"header names {expected} columns. Make every row hold one value per column (quote values "
                    f"that contain {delimiter!r}) and upload again.")


def _read_csv_sql(path: Path, *, encoding: str, whole_file: bool) -> str:
    options = [
        "header = true",
        f"encoding = '{encoding}'",
        f"nullstr = [{', '.join(repr(s) for s in NULL_STRINGS)}]",
        "sample_size = -1" if whole_file else "sample_size = 20480",
        # no BOOLEAN: a label of yes/no stays in the user's words
        "auto_type_candidates = ['BIGINT', 'DOUBLE', 'DATE', 'TIMESTAMP', 'VARCHAR']",
    ]
    literal = str(path).replace("'", "''")
    return f"read_csv('{literal}', {', '.join(options)})"


def _first_error_line(error: Exception) -> str:
    text = str(error)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    detail = next((part.strip() for part in text.splitlines()[1:] if part.strip() and "Original Line" not in
                   part), "")
    where = f" at line {line.group(1)}" if line else ""
    return f"{where}: {detail}" if detail else where


def _run(con: duckdb.DuckDBPyConnection, sql: str, progress: Progress | None, what: str) -> None:
    """Run ``sql``; with ``progress``, on a worker thread while this one reports DuckDB's own progress (so a
    callback that draws, such as Streamlit's, is called from the caller's thread)."""
    if progress is None:
        con.execute(sql)
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    failed: list[BaseException] = []

    def work() -> None:
        try:
            con.execute(sql)
        except BaseException as error:  # re-raised on the caller's thread below
            failed.append(error)

    worker = threading.Thread(target=work, name="metricbridge-read", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
            percent = con.query_progress()
            if percent >= 0:
                progress(min(percent, 100.0) / 100.0, what)
    except BaseException:  # the callback failed, or the user interrupted: stop DuckDB too
        con.interrupt()
        worker.join()
        raise
    if failed:
        raise failed[0]
    con.execute("SET enable_progress_bar = false")


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, file: str, head: bytes,
              progress: Progress | None = None, what: str = "") -> None:
    encoding = "utf-8"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the sample
            encoding = "latin-1"
    sniff = con.execute(
        f"SELECT Delimiter, Quote, len(Columns) FROM sniff_csv('{str(path).replace(chr(39), chr(39) * 2)}', "
        f"encoding = '{encoding}', header = true)").fetchone()
    delimiter, quote_char, n_columns = (sniff or (",", '"', 0))
    quote_char = '"' if quote_char == "(empty)" else quote_char
    names = _header_names(head, delimiter, quote_char, encoding)
    _check_header(names, file)
    if n_columns != len(names):
        _raise_ragged(path, file, delimiter, quote_char, encoding, len(names))
    last_error: Exception | None = None
    for attempt_encoding, whole_file in ((encoding, False), (encoding, True), ("latin-1", True)):
        try:
            sql = _read_csv_sql(path, encoding=attempt_encoding, whole_file=whole_file)
            _run(con, f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM {sql}", progress, what)
            return
        except (duckdb.ConversionException, duckdb.InvalidInputException) as error:
            last_error = error  # a late text value or a late non-UTF-8 byte: sniff the whole file, or Latin-1
    raise InputError(
        f"{file}: cannot be read as a CSV table{_first_error_line(last_error or Exception())}. Check that "
        "every row has the same number of separators and that quotes are closed, then upload again."
    ) from last_error


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, file: str, progress: Progress | None = None,
                  what: str = "") -> None:
    literal = str(path).replace("'", "''")
    try:
        names = [row[0] for row in con.execute(
            f"SELECT name FROM parquet_schema('{literal}') WHERE num_children IS NULL OR num_children = 0"
        ).fetchall()]
        _check_header(names, file)
        _run(con, f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM read_parquet('{literal}')", progress, what)
    except duckdb.Error as error:
        raise InputError(f"{file}: is not a readable Parquet file ({str(error).splitlines()[0]}). "
                         "Write it again with pandas.DataFrame.to_parquet or pyarrow.") from error


def read_table(path: str | Path, *, name: str | None = None, progress: Progress | None = None) -> Table:
    """Read ``path`` (CSV of any common delimiter and encoding, or Parquet) into a fresh DuckDB table.

    ``name`` is how messages refer to the file (an upload's original name); it defaults to the file name.
    Raises InputError for an empty, header-only, binary or malformed file and for duplicate column names.
    ``progress`` hears the fraction read (DuckDB's estimate) and "reading NAME".
    """
    path = Path(path)
    file = f"'{name or path.name}'"
    what = f"reading {name or path.name}"
    if progress:
        progress(0.0, what)
    if not path.is_file():
        raise InputError(f"{file}: no such file. Check the path.")
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise InputError(f"{file}: the file is empty. Export the predictions again, with a header row.")
    con = duckdb.connect()
    if head.startswith(b"PAR1") or path.suffix.lower() in (".parquet", ".pq"):
        _load_parquet(con, path, file, progress, what)
        file_format = "parquet"
    elif _looks_binary(head):
        raise InputError(f"{file}: is not a table: it holds {_kind_of_binary(head)}.")
    else:
        _load_csv(con, path, file, head, progress, what)
        file_format = "csv"
    described = con.execute(f"DESCRIBE {TABLE}").fetchall()
    columns = tuple(str(row[0]) for row in described)
    n_rows = int((con.execute(f"SELECT count(*) FROM {TABLE}").fetchone() or (0,))[0])
    if n_rows == 0:
        raise InputError(f"{file}: has a header ({', '.join(columns[:6])}) but no data rows. Export the "
                         "predictions with their rows.")
    if progress:
        progress(1.0, what)
    return Table(name=file, con=con, columns=columns, types={str(r[0]): str(r[1]) for r in described},
                 n_rows=n_rows, format=file_format)

