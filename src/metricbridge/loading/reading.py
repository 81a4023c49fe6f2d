"""Read a CSV or Parquet file into an in-memory DuckDB table, refusing what is not a usable table.

Only DuckDB reads the data (no pandas round trip), so a 1 GB file costs its columns in DuckDB's memory
and nothing more. Rows keep file order, so a row's spreadsheet number is its position + 2 (the header is
row 1): :attr:`Table.spreadsheet_row`. The position is DuckDB's ``rowid``, unless a column of the file is named
``rowid`` (in any case), which hides it: the table then numbers its rows in a column of a reserved name that no
column of the file has (:attr:`Table.row_column`, left out of :attr:`Table.columns`).

Text: DuckDB reads UTF-8 here (its other encodings need an extension that cannot be downloaded), so a file in
another encoding is first transcoded, streamed, into a temporary UTF-8 copy (removed once read): UTF-16 and
UTF-32 by their byte-order mark, UTF-16 without one by its zero bytes, and a file that is not UTF-8 as
Windows-1252 (Latin-1 for the five bytes Windows-1252 leaves undefined). The encoding used is one of the
table's notes. A file whose lines end in several ways (CR LF, LF, CR alone), which DuckDB's sniffer cannot
read, is copied with every line break as LF. The limits of :mod:`metricbridge.limits` on lines, cells and
columns are enforced here, each message naming the limit and how to get under it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from metricbridge.errors import InputError
from metricbridge.limits import LIMITS, beyond
from metricbridge.loading.builders import Progress, quote

__all__ = ["Table", "read_table", "view_table", "csv_source", "TABLE", "ROW_COLUMN", "PART_COLUMN"]

TABLE = "rows"
ROW_COLUMN = "__metricbridge_row"  # the reserved name of the row numbers, when a column hides DuckDB's rowid
PART_COLUMN = "__metricbridge_part"  # a view of several files: the reserved names of each row's file (number, name)
NULL_STRINGS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
_SNIFF_BYTES = 64 * 1024
_DUCKDB_LINE_BYTES = 2 * 1024 * 1024  # the longest line DuckDB's CSV reader reads by default (max_line_size)
_WIDE_ROWS_CHARS = 1 << 20  # the start of a file whose rows are counted before DuckDB sniffs it
_TRANSCODE_CHARS = 1 << 20  # characters per step of a transcoding
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
                      r"UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$")
# types whose values come back to Python as values that bind back as parameters and compare equal
_PLAIN = re.compile(r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
                    r"FLOAT|DOUBLE|VARCHAR)$")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")  # the csv module's line breaks, not str.splitlines'
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # UTF-32 LE starts like UTF-16 LE
              (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_UNDEFINED = "metricbridge.cp1252-latin-1"
_FIELD_LIMIT = threading.Lock()


def _latin1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    """The decoding error handler of Windows-1252: the five bytes it leaves undefined read as Latin-1."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error(_UNDEFINED, _latin1_for_undefined)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Table:
    """A file read into table ``rows`` of its own DuckDB connection; ``name`` is what messages call it.

    ``columns`` are the file's columns; ``row_column`` the reserved column numbering the rows when a column of
    the file hides DuckDB's ``rowid`` (else None); ``notes`` say how the file was read (its encoding).

    A view of data read in place (:func:`view_table`: files larger than memory) has no ``rowid``: its
    ``row_sql`` orders the rows as the source holds them, ``row_label_sql`` names a row in messages ("7", or
    "7 of part-3.parquet" for a folder of files), and ``hidden`` are its other reserved columns.
    """

    name: str
    con: duckdb.DuckDBPyConnection
    columns: tuple[str, ...]
    types: dict[str, str]
    n_rows: int
    format: str
    row_column: str | None = None
    notes: tuple[str, ...] = ()
    row_sql: str | None = None
    row_label_sql: str | None = None
    hidden: tuple[str, ...] = ()

    def is_numeric(self, column: str) -> bool:
        return bool(_NUMERIC.match(self.types[column]))

    def is_plain(self, column: str) -> bool:
        """Whether the column's values can be bound back as parameters (matched by value, not as text)."""
        return bool(_PLAIN.match(self.types[column]))

    @property
    def row(self) -> str:
        """SQL of a row's position in the file (0 for the first data row); order by it to keep file order."""
        if self.row_sql is not None:
            return self.row_sql
        return "rowid" if self.row_column is None else quote(self.row_column)

    @property
    def spreadsheet_row(self) -> str:
        """SQL of a row's number as a spreadsheet shows the file: the header is row 1."""
        return self.row_label_sql if self.row_label_sql is not None else f"({self.row} + 2)"

    @property
    def star(self) -> str:
        """SQL selecting every column of the file (and not the reserved row numbers)."""
        reserved = [name for name in (self.row_column, *self.hidden) if name is not None]
        return "*" if not reserved else f"* EXCLUDE ({', '.join(map(quote, reserved))})"

    def free_name(self, wanted: str) -> str:
        """``wanted``, or ``wanted_2``, ``wanted_3``...: a name no column has (in any case), for a column added
        to what the file holds (a row number in a work list)."""
        return _free_name(wanted, {column.lower() for column in self.columns})


def _free_name(wanted: str, taken: set[str]) -> str:
    name, number = wanted, 1
    while name.lower() in taken:
        number += 1
        name = f"{wanted}_{number}"
    return name


# -- what kind of bytes --------------------------------------------------------------------------------------
def _looks_binary(head: bytes) -> bool:
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


def _wide_encoding(head: bytes) -> tuple[str, str] | None:
    """UTF-16 or UTF-32 (Python's codec and the words for the notes), from a byte-order mark or, for UTF-16
    without one, from text whose every other byte is zero (ASCII characters: a table of numbers)."""
    for bom, codec in _WIDE_BOMS:
        if head.startswith(bom):
            return codec, f"{codec.upper()} (it starts with a byte-order mark)"
    pairs = head[:4096 - 4096 % 2] if len(head) >= 4096 else head[:len(head) - len(head) % 2]
    if len(pairs) >= 8:
        even, odd = pairs[0::2], pairs[1::2]
        if odd.count(0) >= 0.9 * len(odd) and even.count(0) == 0:
            return "utf-16-le", "UTF-16 (little-endian, without a byte-order mark)"
        if even.count(0) >= 0.9 * len(even) and odd.count(0) == 0:
            return "utf-16-be", "UTF-16 (big-endian, without a byte-order mark)"
    return None


def _first_non_utf8(head: bytes, *, whole_file: bool) -> int | None:
    """Where the first byte that is not UTF-8 is in ``head``; None when there is none (a character cut by the
    end of a head that is not the whole file does not count)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if whole_file or error.start < len(head) - 4:
            return error.start
    return None


def _line_of(head: bytes, offset: int) -> int:
    before = head[:offset]
    return max(before.count(b"\n"), before.count(b"\r") if b"\n" not in before else 0) + 1


@dataclass(slots=True)
class _Text:
    """The UTF-8 text DuckDB reads: the file itself or a transcoded copy, and how the file was decoded."""

    path: Path
    codec: str  # Python's name of the file's encoding
    said: str  # the encoding in words, for the notes
    newlines: bool = False  # whether line breaks were rewritten as LF


def _transcoded(source: Path, codec: str, temporaries: list[Path], *, newlines: bool) -> Path:
    """A temporary UTF-8 copy of ``source`` decoded with ``codec``, streamed; with ``newlines`` every line break
    (CR LF, CR, LF) is written as LF. Raises UnicodeDecodeError for bytes ``codec`` cannot decode (never for
    Windows-1252, whose undefined bytes read as Latin-1)."""
    errors = _UNDEFINED if codec == "cp1252" else "strict"
    handle, name = tempfile.mkstemp(prefix="metricbridge-", suffix=".csv")
    temporaries.append(Path(name))  # removed by read_table once the table is read, or on any error
    with source.open("rb") as raw, io.TextIOWrapper(raw, encoding=codec, errors=errors,
                                                     newline=None if newlines else "") as text, \
            os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        while chunk := text.read(_TRANSCODE_CHARS):
            out.write(chunk)
    return Path(name)


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _undecodable_at(source: Path, codec: str) -> tuple[int, int]:
    """(line, byte offset) of the first bytes of ``source`` that ``codec`` cannot decode, found again step by step
    (only on the way to refusing the file: the transcoding's error says where in its step, not in the file)."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    line, offset, last = 1, 0, ""
    with source.open("rb") as raw:
        while True:
            chunk = raw.read(_TRANSCODE_CHARS)
            buffered, flag = decoder.getstate()
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                before = codecs.getincrementaldecoder(codec)("strict")
                before.setstate((b"", flag))  # as the decoder stood before this step, its buffered bytes re-read
                text = before.decode(error.object[:error.start])
                return line + _line_breaks(last + text) - _line_breaks(last), offset - len(buffered) + error.start
            if not chunk:
                return line, offset
            line += _line_breaks(last + text) - _line_breaks(last)  # a CR LF split by the step counts once
            last, offset = text[-1:] or last, offset + len(chunk)


def _text_of(path: Path, head: bytes, file: str, temporaries: list[Path], *, whole_file: bool) -> _Text:
    """How to read ``path`` as UTF-8: which encoding it is in and, when not UTF-8, a transcoded copy."""
    wide = _wide_encoding(head)
    if wide is not None:
        codec, said = wide
        try:
            return _Text(path=_transcoded(path, codec, temporaries, newlines=False), codec=codec, said=said)
        except UnicodeDecodeError as error:
            name = said.split(" ")[0]
            line, offset = _undecodable_at(path, codec)
            raise InputError(f"{file}: is {name} text, but line {line:,} holds bytes that are not {name} "
                             f"({error.reason}, at byte {offset:,} of the file): save it again as CSV (UTF-8) and "
                             "upload again.") from error
    if _looks_binary(head):
        raise InputError(f"{file}: is not a table: it holds {_kind_of_binary(head)}.")
    bad = _first_non_utf8(head, whole_file=whole_file)
    if bad is not None:
        return _windows_1252(path, temporaries, f"line {_line_of(head, bad)} holds the byte 0x{head[bad]:02X}")
    bom = " (with the byte-order mark Excel writes)" if head.startswith(codecs.BOM_UTF8) else ""
    return _Text(path=path, codec="utf-8-sig", said=f"UTF-8{bom}")


def _windows_1252(path: Path, temporaries: list[Path], where: str, *, newlines: bool = False) -> _Text:
    return _Text(path=_transcoded(path, "cp1252", temporaries, newlines=newlines), codec="cp1252",
                 said=f"Windows-1252: it is not UTF-8 ({where})", newlines=newlines)


def _with_line_feeds(path: Path, text: _Text, temporaries: list[Path]) -> _Text:
    """The file again, every line break (CR LF, CR, LF) written as LF."""
    if text.codec == "utf-8-sig":
        try:
            copy = _transcoded(path, "utf-8-sig", temporaries, newlines=True)
        except UnicodeDecodeError:
            return _windows_1252(path, temporaries, "some of its bytes are not", newlines=True)
    else:
        copy = _transcoded(path, text.codec, temporaries, newlines=True)
    return _Text(path=copy, codec=text.codec, said=text.said, newlines=True)


# -- column names ------------------------------------------------------------------------------------------------
def _name_key(name: str, *, csv_header: bool) -> str:
    """What DuckDB tells names apart by: ASCII letters in either case are the same, and a CSV header's names are
    read without the spaces at their ends."""
    name = name.strip() if csv_header else name
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in name)


def _check_names(names: Sequence[str], file: str, *, csv_header: bool) -> None:
    where = "in the header row" if csv_header else "in the file"
    if len(names) > LIMITS.columns:
        raise InputError(f"{file}: " + beyond(
            "the number of columns", f"{len(names):,}", f"{LIMITS.columns:,} (limits.columns)",
            "keep the label, the scores and the columns a scenario uses (an id, a segment, an amount), leave the "
            "rest out of the export, and upload again."))
    if not names or all(not name.strip() for name in names):
        raise InputError(f"{file}: the first row is empty; it must hold the column names." if csv_header else
                         f"{file}: has no named columns. Write it again with a name for every column.")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(
                f"{file}: the column name {name!r} appears twice (columns {seen[name]} and {position}). "
                f"Give every column a different name {where} and upload again.")
        seen[name] = position
    blank = [position for position, name in enumerate(names, start=1) if not name.strip()]
    if blank:
        raise InputError(f"{file}: column {blank[0]} has no name {where}. Name it and upload again.")
    keys: dict[str, tuple[int, str]] = {}
    for position, name in enumerate(names, start=1):
        key = _name_key(name, csv_header=csv_header)
        if key in keys:
            first, other = keys[key]
            case = "SQL compares column names without regard to case"
            if csv_header and other.strip() == name.strip():
                how, why = "only in spaces at their ends", "the header's names are read without them"
            elif not csv_header or (other == other.strip() and name == name.strip()):
                how, why = "only in upper and lower case", case
            else:
                how, why = "only in upper and lower case and in spaces at their ends", (
                    f"{case}, and the header's names are read without those spaces")
            raise InputError(
                f"{file}: columns {first} ({other!r}) and {position} ({name!r}) have names that differ {how}, "
                f"which metricbridge cannot tell apart ({why}). Rename one of them {where} and upload again.")
        keys[key] = (position, name)
    if csv_header and all(re.fullmatch(r"\s*-?[\d.]+([eE][-+]?\d+)?\s*", name) for name in names):
        raise InputError(
            f"{file}: the first row holds numbers ({', '.join(names[:4])}), not column names. Add a header "
            "row that names each column (for example: label,score) and upload again.")


def _check_read_names(names: Sequence[str], columns: Sequence[str], file: str, *, csv_header: bool) -> None:
    """DuckDB's names are the file's (a CSV header's without the spaces at their ends): a name it changed
    would make the user's names fail later, so say so now."""
    if len(names) != len(columns):
        raise InputError(f"{file}: the header names {len(names)} columns but {len(columns)} were read. Check the "
                         "header row (one name per column, quotes closed) and upload again.")
    for position, (name, read) in enumerate(zip(names, columns, strict=True), start=1):
        if read not in (name, name.strip()) and _name_key(read, csv_header=csv_header) != _name_key(
                name, csv_header=csv_header):
            raise InputError(f"{file}: column {position} is named {name!r}, which is read as {read!r}. Rename it "
                             "(letters, digits, spaces and _) and upload again.")


# -- CSV -----------------------------------------------------------------------------------------------------
class _NotUtf8(Exception):
    """DuckDB met a byte that is not UTF-8 past the head; ``line`` is where (when it says)."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class _LineTooLong(Exception):
    """A line is longer than DuckDB reads by default (or than the limit, when it was raised to it)."""


class _Unsniffable(Exception):
    """DuckDB's sniffer found no dialect."""


@contextlib.contextmanager
def _field_limit() -> Iterator[None]:
    """The csv module's cap on one field (128K characters) raised to the line limit, for this block."""
    with _FIELD_LIMIT:
        old = csv.field_size_limit()
        csv.field_size_limit(max(old, LIMITS.line_bytes))
        try:
            yield
        finally:
            csv.field_size_limit(old)


@dataclass(frozen=True, slots=True)
class _Dialect:
    delimiter: str
    quote: str  # "" when values are not quoted
    escape: str  # "" when a quote inside a quoted value is doubled (or there are no quotes)

    def reader(self, lines: Iterator[str] | io.TextIOBase) -> Iterator[list[str]]:
        if not self.quote:
            return csv.reader(lines, delimiter=self.delimiter, quoting=csv.QUOTE_NONE)
        if self.escape and self.escape != self.quote:
            return csv.reader(lines, delimiter=self.delimiter, quotechar=self.quote, escapechar=self.escape,
                              doublequote=False)
        return csv.reader(lines, delimiter=self.delimiter, quotechar=self.quote)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sniff(con: duckdb.DuckDBPyConnection, path: Path, max_line: int | None) -> tuple[_Dialect, int]:
    """The dialect DuckDB's sniffer finds, and how many columns it sees."""
    option = f", max_line_size = {max_line}" if max_line else ""
    try:
        found = con.execute(f"SELECT Delimiter, Quote, Escape, len(Columns) FROM sniff_csv({_sql_text(str(path))}, "
                            f"header = true{option})").fetchone()
    except duckdb.Error as error:
        if _line_too_long(error):
            raise _LineTooLong(str(error)) from error
        raise _Unsniffable(str(error)) from error
    delimiter, quote_char, escape, n_columns = found or (",", '"', "", 0)
    if len(delimiter) != 1:
        raise _Unsniffable(f"delimiter {delimiter!r}")
    return _Dialect(delimiter=delimiter, quote=_given(quote_char), escape=_given(escape)), int(n_columns)


def _given(value: str) -> str:
    """A sniffed quote or escape character; "" for none."""
    return "" if value in ("(empty)", "\\0", "\x00") else value[:1]


def _header_names(path: Path, dialect: _Dialect, file: str) -> list[str]:
    """The first record's fields, read as Python's csv module reads them (DuckDB renames duplicates): from the
    head of the file, read further when the header is longer than the head."""
    size = _SNIFF_BYTES
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        text = ""
        while True:
            more = handle.read(size - len(text))
            text += more
            whole = len(text) < size
            lines = _LINE.findall(text)
            try:
                with _field_limit():
                    reader = dialect.reader(iter(lines))
                    first = next(reader, [])
            except csv.Error as error:
                raise InputError(f"{file}: the header row cannot be read ({error}). Give the file one header row "
                                 "of column names and upload again.") from error
            if whole or reader.line_num < len(lines):  # type: ignore[attr-defined]
                return first
            if size > LIMITS.line_bytes:
                raise InputError(f"{file}: " + beyond(
                    "the header row", f"longer than {LIMITS.line_bytes:,} bytes",
                    f"{LIMITS.line_bytes:,} bytes (limits.line_bytes)",
                    "check that its quotes are closed and that it names each column once, then upload again."))
            size *= 4


def _raise_ragged(path: Path, file: str, dialect: _Dialect, expected: int) -> None:
    """A row with more or fewer cells than the header confuses the sniffer: find it and say so."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle, _field_limit():
        try:
            for row_number, cells in enumerate(dialect.reader(handle), start=1):
                if cells and len(cells) != expected:
                    quotes = ", and put a value that holds a quote (\") in quotes, each of its quotes doubled" if any(
                        '"' in cell for cell in cells) else ""
                    raise InputError(
                        f"{file}: row {row_number} has {len(cells):,} cells ({dialect.delimiter.join(cells)[:60]!r}) "
                        f"but the header names {expected:,} columns. Make every row hold one value per column "
                        f"(quote values that contain {dialect.delimiter!r}{quotes}) and upload again.")
        except csv.Error:
            return  # DuckDB's reader says what is wrong, below


def _guessed_header(path: Path) -> tuple[_Dialect, list[str]]:
    """The first line's names under the common separator that splits it most (quotes "), guessed without DuckDB's
    sniffer: for the checks that must not wait for it (a header of 100,000 names takes it seconds) or that it gave
    up on."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.readline(LIMITS.line_bytes)
    best = (_Dialect(delimiter=",", quote='"', escape=""), [first])
    with _field_limit():
        for delimiter in (",", ";", "\t", "|"):
            dialect = _Dialect(delimiter=delimiter, quote='"', escape="")
            try:
                names = next(dialect.reader(iter([first])), [])
            except csv.Error:
                continue
            if len(names) > len(best[1]):
                best = (dialect, names)
    return best


def _refuse_wide_rows(path: Path, file: str) -> None:
    """A header, or a row of the first MiB, with more cells than ``limits.columns`` is refused before DuckDB's
    sniffer, which takes seconds over a row of 100,000s of cells (the separator is the header's)."""
    dialect, names = _guessed_header(path)
    if len(names) > LIMITS.columns:
        _check_names(names, file, csv_header=True)
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        text = handle.read(_WIDE_ROWS_CHARS)
    with _field_limit():
        try:
            reader = dialect.reader(iter(_LINE.findall(text)))
            for row_number, cells in enumerate(reader, start=1):
                if len(cells) > LIMITS.columns:
                    cut = len(text) == _WIDE_ROWS_CHARS and next(reader, None) is None  # the row goes on
                    raise InputError(f"{file}: " + beyond(
                        f"the number of cells in row {row_number}", f"{'at least ' if cut else ''}{len(cells):,}",
                        f"{LIMITS.columns:,} (limits.columns)", f"the header names {len(names):,} columns; make "
                        f"every row hold one value per column (quote values that contain {dialect.delimiter!r}) and "
                        "upload again."))
        except csv.Error:
            return  # DuckDB's reader says what is wrong


def _raise_ragged_by_header(path: Path, file: str) -> None:
    """When DuckDB's sniffer gave up, or read the file as one column whose name holds a common separator, it is
    mostly that some row has more or fewer cells than the header (a formula such as =HYPERLINK("a","b") left
    unquoted, a value holding the separator): find that row under the header's separator, and say so."""
    dialect, names = _guessed_header(path)
    if len(names) > 1:
        _check_names(names, file, csv_header=True)
        _raise_ragged(path, file, dialect, len(names))


def _line_too_long(error: BaseException) -> bool:
    return "Maximum line size" in str(error)


def _not_utf8(error: BaseException) -> bool:
    text = str(error)
    return "not utf-8 encoded" in text or "Invalid unicode" in text


def _error_line(error: BaseException) -> str | None:
    found = re.search(r"CSV Error on Line: (\d+)", str(error))
    return found.group(1) if found else None


def _first_error_line(error: BaseException) -> str:
    text = str(error)
    line = _error_line(error)
    detail = next((part.strip() for part in text.splitlines()[1:] if part.strip() and "Original Line" not in
                   part), "")
    where = f" at line {line}" if line else ""
    return f"{where}: {detail[:300]}" if detail else where


def _read_csv_sql(path: Path, *, whole_file: bool, max_line: int | None) -> str:
    options = [
        "header = true",
        "encoding = 'utf-8'",
        f"nullstr = [{', '.join(repr(s) for s in NULL_STRINGS)}]",
        "sample_size = -1" if whole_file else "sample_size = 20480",
        # no BOOLEAN: a label of yes/no stays in the user's words
        "auto_type_candidates = ['BIGINT', 'DOUBLE', 'DATE', 'TIMESTAMP', 'VARCHAR']",
    ]
    if max_line:
        options.append(f"max_line_size = {max_line}")
    return f"read_csv({_sql_text(str(path))}, {', '.join(options)})"


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


def _read_utf8_csv(con: duckdb.DuckDBPyConnection, text: _Text, file: str, max_line: int | None,
                   progress: Progress | None, what: str) -> list[str]:
    """Read the UTF-8 text into the table; the header's names. Raises _NotUtf8, _LineTooLong, _Unsniffable
    for the caller to retry, InputError for the rest."""
    dialect, n_columns = _sniff(con, text.path, max_line)
    names = _header_names(text.path, dialect, file)
    _check_names(names, file, csv_header=True)
    if n_columns != len(names):
        _raise_ragged(text.path, file, dialect, len(names))
    if len(names) == 1:
        _raise_ragged_by_header(text.path, file)
    last_error: duckdb.Error | None = None
    for whole_file in (False, True):  # a type error past the sniffed sample: sniff the whole file
        try:
            sql = _read_csv_sql(text.path, whole_file=whole_file, max_line=max_line)
            _run(con, f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM {sql}", progress, what)
            return names
        except duckdb.Error as error:
            if _line_too_long(error):
                raise _LineTooLong(str(error)) from error
            if _not_utf8(error) and text.codec == "utf-8-sig":
                raise _NotUtf8(_error_line(error) or "?") from error
            last_error = error
    raise InputError(
        f"{file}: cannot be read as a CSV table{_first_error_line(last_error or Exception())}. Check that "
        "every row has the same number of separators and that quotes are closed, then upload again."
    ) from last_error


def _longest_line(path: Path) -> tuple[int, int] | None:
    """(number, length in bytes without its line break) of the file's longest line, each CR LF, LF or CR alone
    ending one, read in 16 MiB steps with numpy; None for an empty file."""
    import numpy as np

    longest, line, start, offset, carry = (0, 0), 1, 0, 0, b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(1 << 24)
            data, carry = carry + chunk, b""
            if not data:
                break
            if chunk and data.endswith(b"\r"):  # whether this CR ends a line or starts a CR LF is in the next step
                data, carry = data[:-1], b"\r"
            codes = np.frombuffer(data, dtype=np.uint8)
            feed, cr = codes == 10, codes == 13
            cr[:-1] &= ~feed[1:]  # a CR followed by LF is the first half of one line break
            breaks = np.flatnonzero(feed | cr)  # the last byte of each line break
            after_cr = np.r_[False, codes[:-1] == 13]
            widths = 1 + (feed[breaks] & after_cr[breaks])  # CR LF is two bytes
            ends = breaks + offset
            starts = np.r_[start, ends[:-1] + 1]
            lengths = ends - widths + 1 - starts
            if len(lengths) and int(lengths.max()) > longest[1]:
                index = int(lengths.argmax())
                longest = (line + index, int(lengths[index]))
            if len(ends):
                line, start = line + len(ends), int(ends[-1]) + 1
            offset += len(data)
    if offset - start > longest[1]:
        longest = (line, offset - start)
    return longest if longest[1] else None


def _long_line(path: Path) -> tuple[int, int] | None:
    """The longest line (as :func:`_longest_line`) when one may be longer than DuckDB reads by default or than
    ``limits.line_bytes``, else None. Such a line holds an aligned stretch of half that many bytes without a line
    break, which is cheap to look for: most files cost one read of their bytes, and DuckDB, which takes seconds per
    MB to refuse a long line, reads a long line with a buffer that fits it and never sees one beyond the limit."""
    step = max(min(LIMITS.line_bytes, _DUCKDB_LINE_BYTES) // 2, 1)
    with path.open("rb") as handle:
        while len(chunk := handle.read(step)) == step:
            if b"\n" not in chunk and b"\r" not in chunk:
                return _longest_line(path)
    return None


def _long_record(path: Path) -> tuple[int, int] | None:
    """(line where it starts, how many characters it has at least) of the first row longer than
    ``limits.line_bytes``, read with the csv module: a row of short lines that a quoted value runs over (a quote
    left open). The separator is the header's most common one."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle, _field_limit():
        first = handle.readline()
        delimiter = max((",", ";", "\t", "|"), key=first.count)
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"')
        before = 0
        try:
            for cells in reader:
                size = sum(map(len, cells)) + len(cells) - 1
                if size > LIMITS.line_bytes:  # characters: at least as many bytes
                    return before + 1, size
                before = reader.line_num
        except csv.Error:  # a value beyond the csv module's limit, itself at least limits.line_bytes
            return before + 1, csv.field_size_limit() + 1
    return None


def _line_limit_message(file: str, error: str, longest: tuple[int, int] | None = None,
                        record: tuple[int, int] | None = None) -> str:
    """The message of a line beyond ``limits.line_bytes``: the longest line when it is beyond the limit (its
    number is certain), else the row a quoted value runs over, else DuckDB's size (its line number is where its
    reading started, not the long line: not said)."""
    size = re.search(r"Actual Size:\s*(\d+)", error)
    what, value = "a line", f"{int(size.group(1)):,} bytes long" if size else f"longer than {LIMITS.line_bytes:,} bytes"
    fix = ("a line holds one item's values; shorten or remove its long cell (a text or an embedded document), or "
           "check that its quotes are closed, then upload again.")
    if longest is not None and longest[1] > LIMITS.line_bytes:
        what, value = f"line {longest[0]:,}", f"{longest[1]:,} bytes long"
    elif record is not None:
        what = f"the row that starts on line {record[0]:,} (a value in quotes runs over several lines)"
        value = f"at least {record[1]:,} bytes long"
        fix = ("check that the quote that opens the value is closed (an open quote takes in the lines after it), "
               "or shorten the value, then upload again.")
    return f"{file}: " + beyond(what, value, f"{LIMITS.line_bytes:,} bytes (limits.line_bytes)", fix)


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, file: str, head: bytes, whole_head: bool,
              temporaries: list[Path], progress: Progress | None = None, what: str = "") -> tuple[list[str], str]:
    """Read a CSV file into the table, decoding and retrying as needed; the header's names and a note saying
    how the file was read."""
    text = _text_of(path, head, file, temporaries, whole_file=whole_head)
    if text.path != path:
        with text.path.open("rb") as handle:
            if not handle.read(_SNIFF_BYTES).strip(b" \t\r\n"):
                raise InputError(f"{file}: the file is empty. Export the predictions again, with a header row.")
    longest = _long_line(text.path)
    if longest is not None and longest[1] > LIMITS.line_bytes:
        raise InputError(_line_limit_message(file, "", longest))
    max_line: int | None = None if longest is None else LIMITS.line_bytes
    _refuse_wide_rows(text.path, file)
    for _ in range(6):  # each retry changes one thing, once
        try:
            names = _read_utf8_csv(con, text, file, max_line, progress, what)
            breaks = "; its lines end in more than one way (CR LF, LF, CR), each read as a line break" \
                if text.newlines else ""
            return names, f"{file}: read as {text.said}{breaks}."
        except _NotUtf8 as late:
            text = _windows_1252(path, temporaries, f"line {late.line} holds a byte that is not",
                                 newlines=text.newlines)
        except _LineTooLong as error:
            if max_line:
                longest = _longest_line(text.path)
                record = _long_record(text.path) if longest is None or longest[1] <= LIMITS.line_bytes else None
                raise InputError(_line_limit_message(file, str(error), longest, record)) from None
            max_line = LIMITS.line_bytes
        except _Unsniffable as error:
            if max_line is None:
                max_line = LIMITS.line_bytes  # a line longer than the sniffer's default also stops it
            elif not text.newlines and b"\r" in head:
                text = _with_line_feeds(path, text, temporaries)
            else:
                _raise_ragged_by_header(text.path, file)
                detail = next((part.strip() for part in str(error).splitlines()[1:2] if part.strip()), "")
                raise InputError(
                    f"{file}: cannot be read as a CSV table: the reader cannot tell how its values are separated"
                    f"{f' ({detail})' if detail else ''}. Save it again as CSV with one header row, one separator "
                    "(comma, semicolon, tab or |) and the same number of values in every row, then upload again."
                ) from None
    raise InputError(f"{file}: cannot be read as a CSV table. Save it again as CSV (UTF-8) and upload again.")


# -- Parquet ----------------------------------------------------------------------------------------------------
def _top_level(schema: Sequence[tuple[str, int | None]]) -> list[str]:
    """The top-level column names of a Parquet schema listed depth first (``parquet_schema``: the root first,
    each group followed by its children)."""
    if not schema:
        return []
    names: list[str] = []
    remaining = [int(schema[0][1] or 0)]  # children still to come, per open group
    for name, children in schema[1:]:
        if not remaining:
            break
        if len(remaining) == 1:
            names.append(str(name))
        remaining[-1] -= 1
        if children:
            remaining.append(int(children))
        while len(remaining) > 1 and remaining[-1] == 0:
            remaining.pop()
    return names


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, file: str, progress: Progress | None = None,
                  what: str = "") -> list[str]:
    literal = _sql_text(str(path))
    try:
        names = _top_level(con.execute(f"SELECT name, num_children FROM parquet_schema({literal})").fetchall())
        _check_names(names, file, csv_header=False)
        _run(con, f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM read_parquet({literal})", progress, what)
    except duckdb.Error as error:
        detail = str(error).splitlines()[0].replace(str(path), file.strip("'"))  # an upload's name, not its copy's
        raise InputError(f"{file}: is not a readable Parquet file ({detail[:300]}). "
                         "Write it again with pandas.DataFrame.to_parquet or pyarrow.") from error
    return names


# -- after reading ---------------------------------------------------------------------------------------------
def _number_rows(con: duckdb.DuckDBPyConnection, columns: Sequence[str]) -> str | None:
    """When a column of the file is named rowid (in any case), which hides DuckDB's, a column of a reserved name
    holding each row's position; None otherwise."""
    hiding = [column for column in columns if _name_key(column, csv_header=False) == "rowid"]
    if not hiding:
        return None
    taken = {_name_key(column, csv_header=False) for column in columns}
    reserved = _free_name(ROW_COLUMN, taken)
    aside = _free_name(f"{ROW_COLUMN}_rowid", taken | {reserved})
    column = quote(hiding[0])
    con.execute(f"ALTER TABLE {TABLE} RENAME COLUMN {column} TO {quote(aside)}")  # rowid is DuckDB's again
    con.execute(f"ALTER TABLE {TABLE} ADD COLUMN {quote(reserved)} BIGINT")
    con.execute(f"UPDATE {TABLE} SET {quote(reserved)} = rowid")
    con.execute(f"ALTER TABLE {TABLE} RENAME COLUMN {quote(aside)} TO {column}")
    return reserved


def _check_cells(table: Table) -> None:
    """No text or binary cell is longer than ``limits.cell_bytes``: one scan of the lengths (kept by DuckDB)."""
    lengths = {column: f"strlen({quote(column)})" if table.types[column] == "VARCHAR" else
               f"octet_length({quote(column)})" for column in table.columns if table.types[column] in
               ("VARCHAR", "BLOB")}
    if not lengths:
        return
    longest = table.con.execute(f"SELECT {', '.join(f'max({sql})' for sql in lengths.values())} FROM {TABLE}"
                                ).fetchone() or ()
    for (column, sql), length in zip(lengths.items(), longest, strict=True):
        if length is not None and length > LIMITS.cell_bytes:
            row = (table.con.execute(f"SELECT {table.spreadsheet_row} FROM {TABLE} WHERE {sql} > ? ORDER BY "
                                     f"{table.row} LIMIT 1", [LIMITS.cell_bytes]).fetchone() or ("?",))[0]
            raise InputError(f"{table.name}: " + beyond(
                f"the cell of column {column!r} in row {row}", f"{int(length):,} bytes long",
                f"{LIMITS.cell_bytes:,} bytes (limits.cell_bytes)",
                f"shorten it, or leave column {column!r} out of the export (the label, the scores and the columns "
                "a scenario uses are all that is needed), then upload again."))


def read_table(path: str | Path, *, name: str | None = None, progress: Progress | None = None) -> Table:
    """Read ``path`` (CSV of any common delimiter and encoding, or Parquet) into a fresh DuckDB table.

    ``name`` is how messages refer to the file (an upload's original name); it defaults to the file name.
    Raises InputError for an empty, header-only, binary or malformed file, for column names that repeat (or
    differ only in case), and for a file beyond a limit of :data:`metricbridge.limits.LIMITS` (line and cell
    length, number of columns). ``progress`` hears the fraction read (DuckDB's estimate) and "reading NAME".
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
        whole_head = len(head) < _SNIFF_BYTES or not handle.read(1)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise InputError(f"{file}: the file is empty. Export the predictions again, with a header row.")
    con = duckdb.connect()
    temporaries: list[Path] = []
    notes: list[str] = []
    try:
        if head.startswith(b"PAR1") or path.suffix.lower() in (".parquet", ".pq"):
            names = _load_parquet(con, path, file, progress, what)
            file_format, csv_header = "parquet", False
        else:
            names, note = _load_csv(con, path, file, head, whole_head, temporaries, progress, what)
            notes.append(note)
            file_format, csv_header = "csv", True
    except BaseException:
        con.close()
        raise
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
    described = con.execute(f"DESCRIBE {TABLE}").fetchall()
    columns = tuple(str(row[0]) for row in described)
    _check_read_names(names, columns, file, csv_header=csv_header)
    table = Table(name=file, con=con, columns=columns, types={str(r[0]): str(r[1]) for r in described},
                  n_rows=0, format=file_format, row_column=_number_rows(con, columns), notes=tuple(notes))
    _check_cells(table)
    n_rows = int((con.execute(f"SELECT count(*) FROM {TABLE}").fetchone() or (0,))[0])
    if n_rows == 0:
        shown = ", ".join(column if len(column) <= 60 else f"{column[:60]}..." for column in columns[:6])
        raise InputError(f"{file}: has a header ({shown}) but no data rows. Export the predictions with their rows.")
    if progress:
        progress(1.0, what)
    return Table(name=file, con=con, columns=columns, types=table.types, n_rows=n_rows, format=file_format,
                 row_column=table.row_column, notes=table.notes)


# -- data read in place: a view ------------------------------------------------------------------------------
def csv_source(con: duckdb.DuckDBPyConnection, path: Path, file: str) -> tuple[str, list[str]]:
    """The ``read_csv`` call that reads a UTF-8 CSV file in place (for a view), and its header's names.

    The dialect is DuckDB's sniffer's, the header is read with Python's csv module (DuckDB renames duplicate
    names) and checked as an upload's is. A file in another encoding is refused: an upload is transcoded into a
    copy, but a file read in place is not copied.
    """
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        whole_head = len(head) < _SNIFF_BYTES or not handle.read(1)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise InputError(f"{file}: the file is empty. Export the predictions again, with a header row.")
    wide = _wide_encoding(head)
    if wide is None and _looks_binary(head):
        raise InputError(f"{file}: is not a table: it holds {_kind_of_binary(head)}.")
    bad = _first_non_utf8(head, whole_file=whole_head)
    if wide is not None or bad is not None:
        at = bad or 0
        found = wide[1] if wide is not None else f"line {_line_of(head, at)} holds the byte 0x{head[at]:02X}"
        raise InputError(f"{file}: is not UTF-8 text ({found}). A file read in place must be UTF-8: convert "
                         "it (iconv -t UTF-8), write it as Parquet, or upload it (uploads are converted).")
    try:
        dialect, n_columns = _sniff(con, path, None)
    except (_LineTooLong, _Unsniffable) as error:
        raise InputError(f"{file}: cannot be read as a CSV table ({str(error).splitlines()[0][:200]}). Save it "
                         "again as CSV with one header row and one separator, or write it as Parquet.") from None
    names = _header_names(path, dialect, file)
    _check_names(names, file, csv_header=True)
    if n_columns != len(names):
        _raise_ragged(path, file, dialect, len(names))
    return _read_csv_sql(path, whole_file=False, max_line=None), names


def view_table(con: duckdb.DuckDBPyConnection, source: str, *, name: str, format: str, row: str,
               part: str | None = None, part_name: str | None = None, names: Sequence[str] | None = None,
               notes: Sequence[str] = ()) -> Table:
    """A Table over a VIEW of ``source`` (a FROM item DuckDB reads in place: ``read_parquet(...)``,
    ``read_csv(...)``, a table of an attached database): nothing is copied, every query reads the source.

    ``row`` is SQL of a row's place in its file (0 for the first), ``part`` SQL of its file's number when the
    source is several files, and ``part_name`` SQL of that file's name in messages. ``names`` are a CSV
    header's names, checked against what DuckDB reads. The checks are an upload's: column names, the length of
    text cells (one scan of the text columns) and at least one row (``name`` is what messages call the data).
    """
    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    columns = tuple(str(entry[0]) for entry in described)
    if names is not None:
        _check_read_names(names, columns, name, csv_header=True)
    else:
        _check_names(columns, name, csv_header=False)
    taken = {_name_key(column, csv_header=False) for column in columns}
    row_column = _free_name(ROW_COLUMN, taken)
    extra = {row_column: row}
    if part is not None:
        part_column = _free_name(PART_COLUMN, taken | {row_column})
        file_column = _free_name(f"{PART_COLUMN}_file", taken | {row_column, part_column})
        extra |= {part_column: part, file_column: part_name or f"CAST({part} AS VARCHAR)"}
    added = ", ".join(f"{sql} AS {quote(column)}" for column, sql in extra.items())
    con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS SELECT *, {added} FROM {source}")
    row_sql = row_label_sql = None
    if part is not None:
        row_sql = f"{quote(part_column)}, {quote(row_column)}"
        row_label_sql = f"(CAST({quote(row_column)} + 2 AS VARCHAR) || ' of ' || {quote(file_column)})"
    table = Table(name=name, con=con, columns=columns, types={str(e[0]): str(e[1]) for e in described}, n_rows=0,
                  format=format, row_column=row_column, notes=tuple(notes), row_sql=row_sql,
                  row_label_sql=row_label_sql, hidden=tuple(extra)[1:])
    _check_cells(table)
    n_rows = int((con.execute(f"SELECT count(*) FROM {TABLE}").fetchone() or (0,))[0])
    if n_rows == 0:
        shown = ", ".join(column if len(column) <= 60 else f"{column[:60]}..." for column in columns[:6])
        if names is not None:  # a CSV file: an upload's words
            raise InputError(f"{name}: has a header ({shown}) but no data rows. Export the predictions with their "
                             "rows.")
        raise InputError(f"{name}: has columns ({shown}) but no data rows.")
    return Table(name=name, con=con, columns=columns, types=table.types, n_rows=n_rows, format=format,
                 row_column=row_column, notes=table.notes, row_sql=row_sql, row_label_sql=row_label_sql,
                 hidden=table.hidden)
