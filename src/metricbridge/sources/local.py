"""Predictions larger than memory, read in place by DuckDB: a Parquet file, a folder of Parquet parts (hive
partitions included), a glob, a CSV file, or a table of a DuckDB database file.

:func:`open_source` makes the data a DuckDB VIEW (nothing is copied) and validates it with the checks of an
upload (:func:`metricbridge.loading.predictions.predictions_of`: labels, missing and non-finite scores, weights;
the same messages, naming the file, the column and the rows, and for a folder the part file holding them). The
:class:`SourcePredictions` it returns is a :class:`~metricbridge.loading.Predictions` whose ``counts`` counts in
DuckDB, so :func:`metricbridge.evaluate.evaluate_predictions` gives the same report as for an upload
(:func:`evaluate_source` is that call):

- exact mode: one GROUP BY (score, label, *keys) in DuckDB, out of core (DuckDB spills its hash table to the
  temp directory), refused with a message saying to use bins when the cells would not fit the memory allowed;
- binned mode: the bin edges from a fixed-seed sample (the rule of :mod:`metricbridge.sources.grouped`), then
  either DuckDB's scan streamed in Arrow batches, each counted by the numpy builder's own binned pass
  (``binning="stream"``, the default: 9.7 s for 1e8 rows on two cores against 15 s for DuckDB's hash
  aggregation of 20,000 cells, ``benchmarks/bench_scale.py``), or one GROUP BY in DuckDB of the bin found in SQL
  (``binning="sql"``: a grid join, the lookup of :class:`~metricbridge.loading.BinLookup` in SQL). Memory stays
  at a batch of rows plus the cells either way.

Both modes shape their cells with :func:`metricbridge.sources.grouped.counts_from_groups`, so the counts equal
the upload path's (``Predictions.counts``) field by field; with more than 200,000 rows binned edges come from a
sample of DuckDB's, not numpy's. DuckDB runs with a memory limit and a temp directory set from the machine
(:func:`connect`) and ``preserve_insertion_order = false``; progress is DuckDB's own, or rows streamed.
"""

from __future__ import annotations

import atexit
import glob
import math
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import duckdb
import numpy as np

from metricbridge.counts import ScoreCounts, scaled_progress
from metricbridge.errors import InputError
from metricbridge.loading.builders import (
    DEFAULT_BINS,
    EDGE_SAMPLE,
    CountingRequest,
    Progress,
    _binned_cells,
    _numpy_of,
    quote,
)
from metricbridge.loading.predictions import Predictions, decision_sql, predictions_of
from metricbridge.loading.reading import TABLE, csv_source, view_table
from metricbridge.sources.grouped import (
    choose_counting,
    counts_from_groups,
    edges_from_samples,
    group_aggregates,
    groups_of,
)

if TYPE_CHECKING:
    import pandas as pd

    from metricbridge.criteria import Criteria
    from metricbridge.evaluate import EvaluationReport
    from metricbridge.scenario import Scenario

__all__ = ["MEMORY_SHARE", "BYTES_PER_EXACT_CELL", "Binning", "SourcePredictions", "connect", "count_source",
           "evaluate_source", "memory_budget", "open_source"]

MEMORY_SHARE = 0.5  # of the machine's memory, for DuckDB (the rest for Python: cells, curves, the bootstrap)
BYTES_PER_EXACT_CELL = 250  # an exact cell collected, shaped and cumulated: about 140 measured (bench_scale.py,
# 2e6 cells: 267 MiB more than binned), with room for the bootstrap's coarse cells
_STREAM_BATCH = 1 << 20  # rows per Arrow batch of the binned stream
_REDUCE_EVERY = 32  # batches whose cells are added up together

def _counting_threads() -> int:
    """Threads counting streamed batches: the cores but one (DuckDB's scan keeps one busy), one to four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores - 1))


_COUNTING_THREADS = _counting_threads()  # measured: two threads on two cores count slower than one
_AHEAD = 4  # batches streamed but not yet counted, at most
_OVERSAMPLE = 1.2  # the hash sample keeps this many times EDGE_SAMPLE rows on average, then the lowest hashes
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_DATABASE_SUFFIXES = (".duckdb", ".db", ".ddb")
_SAMPLE = "USING SAMPLE reservoir({rows} ROWS) REPEATABLE (0)"
_GRID_MAX_EDGES = 8  # most edges in one grid cell of the SQL bin lookup before the grid is refined
_MAX_GRID = 1 << 21
Binning = Literal["stream", "sql"]
T = TypeVar("T")


# -- the machine -----------------------------------------------------------------------------------------------
def _physical_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or a container's (cgroup) limit when lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return int(total) if total > 0 else None


def memory_budget() -> int:
    """Bytes DuckDB may use by default: MEMORY_SHARE of the machine's memory (1 GiB when it cannot be told)."""
    physical = _physical_memory()
    return int(physical * MEMORY_SHARE) if physical else 1 << 30


_TEMP: list[str] = []
_TEMP_LOCK = threading.Lock()


def _temp_directory() -> str:
    """A temp folder of this process for DuckDB's spills, removed when the process ends (two processes never
    share one: DuckDB's temp files are named per database, not per process)."""
    with _TEMP_LOCK:
        if not _TEMP:
            _TEMP.append(tempfile.mkdtemp(prefix="metricbridge-duckdb-"))
            atexit.register(shutil.rmtree, _TEMP[0], True)
        return _TEMP[0]


def connect(*, memory_limit: int | None = None, temp_directory: str | Path | None = None,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for reading data in place: ``memory_limit`` bytes (default
    :func:`memory_budget`), spills under ``temp_directory`` (default a temp folder of this process), rows in
    any order (``preserve_insertion_order = false``: aggregations and scans need not keep file order, which lets
    DuckDB stream and spill), ``threads`` (default DuckDB's: one a core); DuckDB's use of Parquet statistics
    is off (they leave NaN out, which would hide NaN scores from the checks)."""
    limit = memory_budget() if memory_limit is None else int(memory_limit)
    if limit < 64 << 20:
        raise InputError(f"memory_limit must be at least 64 MiB, not {limit:,} bytes.")
    con = duckdb.connect(config={"memory_limit": f"{limit // (1 << 20)}MiB",
                                 "temp_directory": str(temp_directory or _temp_directory()),
                                 "preserve_insertion_order": False})
    # Parquet writers leave NaN out of a column's min/max statistics (the format says to), and DuckDB trusts
    # them: with its statistics it folds isnan(score) to false and skips row groups for a filter, so a NaN
    # score would pass validation. Without these two optimizers every check reads the values themselves.
    con.execute("SET disabled_optimizers = 'statistics_propagation,filter_pushdown'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return con


# -- what the source is ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class _Source:
    """How to read a source in place: the FROM item, the SQL of a row's place, of its part and part's name."""

    name: str  # what messages call it, quoted
    format: str
    sql: str
    row: str
    part: str | None = None
    part_name: str | None = None
    names: tuple[str, ...] | None = None  # a CSV header's names
    notes: tuple[str, ...] = ()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def _is_database(path: Path) -> bool:
    if path.suffix.lower() in _DATABASE_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(12)[8:12] == b"DUCK"


def _visible(path: Path, base: Path) -> bool:
    """Not a hidden or bookkeeping file of a writer (Spark's _SUCCESS and .crc files, _metadata)."""
    return not any(part.startswith((".", "_")) for part in path.relative_to(base).parts)


def _parquet_source(files: Sequence[Path], base: Path, name: str, hive: bool) -> _Source:
    listed = ", ".join(_literal(str(path)) for path in files)
    options = f"hive_partitioning = {'true' if hive else 'false'}, union_by_name = true"
    sql = f"read_parquet([{listed}], {options})"
    if len(files) == 1:
        return _Source(name=name, format="parquet", sql=sql, row="file_row_number")
    prefix = str(base).rstrip(os.sep) + os.sep
    # filename is the path as listed: the part's name is what follows the folder
    return _Source(name=name, format="parquet", sql=sql, row="file_row_number", part="file_index",
                   part_name=f"substr(filename, {len(prefix) + 1})",
                   notes=(f"{name}: read in place, {len(files):,} Parquet files"
                          f"{' with hive partitions' if hive else ''}.",))


def _glob_base(pattern: str) -> Path:
    """The folder of a glob before its first wildcard."""
    fixed: list[str] = []
    for part in Path(pattern).parts:
        if any(char in part for char in "*?["):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _hive(files: Sequence[Path], base: Path) -> bool:
    return any("=" in part for path in files for part in path.relative_to(base).parts[:-1])


def _database_source(con: duckdb.DuckDBPyConnection, path: Path, table: str | None, shown: str) -> _Source:
    try:
        con.execute(f"ATTACH {_literal(str(path))} AS source (READ_ONLY)")
    except duckdb.Error as error:
        raise InputError(f"'{shown}': is not a DuckDB database that can be opened read-only "
                         f"({str(error).splitlines()[0][:200]}).") from error
    tables = [(str(schema), str(name)) for schema, name in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = 'source' "
        "ORDER BY 1, 2").fetchall()]
    listed = ", ".join(name if schema == "main" else f"{schema}.{name}" for schema, name in tables) or "none"
    if table is None:
        if len(tables) != 1:
            raise InputError(f"'{shown}': name the table to read, as {shown}:TABLE; its tables are: {listed}.")
        schema, chosen = tables[0]
    else:
        schema, _, chosen = table.rpartition(".")
        schema = schema or "main"
        if (schema, chosen) not in tables:
            raise InputError(f"'{shown}': has no table {table!r}; its tables are: {listed}.")
    name = f"'{shown}:{chosen if schema == 'main' else f'{schema}.{chosen}'}'"
    return _Source(name=name, format="duckdb", sql=f"source.{quote(schema)}.{quote(chosen)}", row="rowid")


def _resolve(con: duckdb.DuckDBPyConnection, source: str | Path, table: str | None,
             name: str | None) -> _Source:
    text = str(source)
    path = Path(text)
    if table is None and not path.exists() and ":" in text:  # "scores.duckdb:predictions"
        head, _, tail = text.rpartition(":")
        if Path(head).is_file() and _is_database(Path(head)):
            path, table = Path(head), tail
    shown = name or (path.name if path.exists() else text)
    quoted = f"'{shown}'"
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES
                       and _visible(p, path))
        if not files:
            raise InputError(f"{quoted}: is a folder without Parquet files (*.parquet). Give a folder of Parquet "
                             "parts, a glob such as 'folder/*.parquet', or a file.")
        return _parquet_source(files, path, quoted, _hive(files, path))
    if not path.exists() and any(char in text for char in "*?["):
        base = _glob_base(text)
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"{quoted}: no file matches this pattern. Check the path.")
        kinds = {"parquet" if _is_parquet(p) else "other" for p in files}
        if kinds != {"parquet"}:
            others = [str(p) for p in files if not _is_parquet(p)][:3]
            raise InputError(f"{quoted}: matches files that are not Parquet ({', '.join(others)}). A pattern reads "
                             "Parquet parts; give a CSV file on its own.")
        return _parquet_source(files, base, quoted, _hive(files, base))
    if not path.is_file():
        raise InputError(f"{quoted}: no such file or folder. Check the path.")
    if table is not None or _is_database(path):
        return _database_source(con, path, table, shown)
    if _is_parquet(path):
        return _parquet_source([path], path.parent, quoted, False)
    sql, names = csv_source(con, path, quoted)
    # a CSV file has no row numbers of its own: numbered in file order (DuckDB streams this window in
    # order, and leaves it out of every query that does not ask for it)
    return _Source(name=quoted, format="csv", sql=sql, row="row_number() OVER () - 1", names=tuple(names),
                   notes=(f"{quoted}: read in place as UTF-8 CSV.",))


# -- running queries --------------------------------------------------------------------------------------------
def _with_progress(con: duckdb.DuckDBPyConnection, work: Callable[[], T], progress: Progress | None,
                   what: str) -> T:
    """``work()`` (queries on ``con``); with ``progress``, on a worker thread while this one reports DuckDB's
    own progress, so a callback that draws is only called from the caller's thread."""
    if progress is None:
        return work()
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except BaseException as error:  # re-raised on the caller's thread below
            failed.append(error)

    worker = threading.Thread(target=run, name="metricbridge-count", daemon=True)
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
    return done[0]


def _read_error(name: str, error: duckdb.Error) -> InputError:
    detail = str(error).splitlines()[0][:300]
    return InputError(f"{name}: cannot be read to the end ({detail}). Fix or remove the file DuckDB names, or "
                      "write the data again as Parquet.")


def _columns(table: Any) -> dict[str, np.ndarray]:
    """The columns of an Arrow table (a GROUP BY's result) as numpy arrays, as the upload path converts them."""
    return {name: _numpy_of(table.column(name).combine_chunks()) for name in table.column_names}


# -- counting ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class _Query:
    """The rows in use of one score column as columns s, y, w, k0.., v0.. (SQL and its parameters)."""

    sql: str
    params: list[object]
    weighted: bool
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    identity: str | None = None  # the same rows with h, a hash of each row's place (None: no cheap place)

    def key_columns(self) -> list[str]:
        return [f"k{index}" for index in range(len(self.keys))]


def _joined(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The groups of several parts as one (the columns all of them have: "weights" of unweighted counts is the
    reduced parts' alone, and equals "rows")."""
    common = [name for name in parts[0] if all(name in part for part in parts)]
    return {name: np.concatenate([np.asarray(part[name]) for part in parts]) for name in common}


def _exact_groups(con: duckdb.DuckDBPyConnection, query: _Query, progress: Progress | None,
                  what: str) -> dict[str, np.ndarray]:
    aggregates = group_aggregates(mode="exact", weighted=query.weighted, sums=query.sums)
    keys = ", ".join(f"{column} AS {quote(f'key:{name}')}" for column, name in zip(query.key_columns(), query.keys,
                                                                                   strict=True))
    select = ", ".join(["s AS score", "y AS label", *([keys] if keys else []),
                        *(f"{sql} AS {quote(name)}" for name, sql in aggregates.items())])
    sql = f"SELECT {select} FROM ({query.sql}) GROUP BY ALL"
    return _with_progress(con, lambda: _columns(con.sql(sql, params=query.params or None).to_arrow_table()),
                          progress, what)


def _stream_groups(con: duckdb.DuckDBPyConnection, query: _Query, edges: np.ndarray, n_rows: int,
                   progress: Progress | None, what: str) -> dict[str, np.ndarray]:
    """Binned groups: the rows streamed from DuckDB in Arrow batches, each counted by the numpy builder's
    binned pass on ``edges`` (memory: a batch and the cells)."""
    reader = con.sql(query.sql, params=query.params or None).to_arrow_reader(_STREAM_BATCH)
    names = reader.schema.names

    def count(batch: Any) -> dict[str, np.ndarray]:
        columns = {name: _numpy_of(batch.column(index)) for index, name in enumerate(names)}
        cells = _binned_cells(
            columns["y"], columns["s"], columns.get("w"),
            {name: columns[column] for name, column in zip(query.keys, query.key_columns(), strict=True)},
            {name: columns[f"v{index}"] for index, name in enumerate(query.sums)}, edges, None, what)
        part = {"score": cells.scores, "label": cells.labels} | {f"key:{k}": v for k, v in cells.keys.items()}
        return part | cells.figures

    parts: list[dict[str, np.ndarray]] = []
    pending: deque[Future[dict[str, np.ndarray]]] = deque()
    done = 0
    # batches are counted on worker threads (numpy lets go of the GIL) while this one asks DuckDB for the next;
    # at most _AHEAD batches wait, so memory stays a few batches
    with ThreadPoolExecutor(max_workers=_COUNTING_THREADS, thread_name_prefix="metricbridge-bins") as pool:
        for batch in reader:
            pending.append(pool.submit(count, batch))
            done += batch.num_rows
            while len(pending) > _AHEAD or (pending and pending[0].done()):
                parts.append(pending.popleft().result())
                if len(parts) >= _REDUCE_EVERY:  # the cells of many batches, added up
                    parts = [_reduced(parts, query, edges)]
            if progress:
                progress(done / max(n_rows, 1), what)
        parts += [future.result() for future in pending]
    if not parts:
        return {}
    return _reduced(parts, query, edges) if len(parts) > 1 else parts[0]


def _reduced(parts: Sequence[Mapping[str, np.ndarray]], query: _Query, edges: np.ndarray) -> dict[str, np.ndarray]:
    counts = counts_from_groups(_joined(parts), mode="binned", bins=2, score_min=float(edges[0]),
                                score_max=float(edges[-1]), keys=query.keys, sums=query.sums, weighted=query.weighted)
    return groups_of(counts)


def _grid(con: duckdb.DuckDBPyConnection, edges: np.ndarray) -> tuple[str, int] | None:
    """The SQL bin lookup: a grid of equal cells over [edges[1], edges[-1]] (BinLookup's), as a temp table
    (g, lo, e0, e1...) of each cell's first edge index and the edges in it (+inf for none); the SQL of the
    grid cell of ``s`` and how many edge columns the table has. Any monotone cell function is exact: every
    edge of an earlier cell is below ``s``, every edge of a later cell above it, so the bin is lo - 1 plus the
    edges of ``s``'s cell at or below it.
    None when the grid cannot be made (fewer than three edges, a range that overflows)."""
    n = len(edges)
    if n < 3:
        return None
    low, high = float(edges[1]), float(edges[-1])
    cells = min(max(4 * n, 1024), _MAX_GRID)
    while True:
        with np.errstate(over="ignore"):
            scale = cells / (high - low)
        if not (math.isfinite(scale) and scale > 0):
            return None
        cell_sql = (f"CAST(trunc(least(greatest((s - {low!r}) * {scale!r} + 1.0, 0.0), {float(cells + 1)!r})) "
                    "AS BIGINT)")
        # the edges' cells by DuckDB's own arithmetic, so they are those of a score equal to an edge
        at = np.asarray([row[0] for row in con.execute(
            f"SELECT {cell_sql} FROM (SELECT unnest(?::DOUBLE[]) AS s, generate_subscripts(?::DOUBLE[], 1) AS i) "
            "ORDER BY i", [edges.tolist(), edges.tolist()]).fetchall()], dtype=np.int64)
        first = np.searchsorted(at, np.arange(cells + 3), side="left")
        per_cell = np.diff(first)
        if per_cell.max() <= _GRID_MAX_EDGES or cells >= _MAX_GRID:
            break
        cells = min(cells * 4, _MAX_GRID)
    width = int(per_cell.max())
    grid = {"g": np.arange(cells + 2, dtype=np.int64), "lo": first[:cells + 2].astype(np.int64)}
    for index in range(width):
        place = first[:cells + 2] + index
        grid[f"e{index}"] = np.where(index < per_cell[:cells + 2], edges[np.minimum(place, n - 1)], np.inf)
    import pyarrow as pa

    con.register("__metricbridge_grid_arrow", pa.table(grid))
    con.execute("CREATE OR REPLACE TEMP TABLE __metricbridge_grid AS SELECT * FROM __metricbridge_grid_arrow")
    con.unregister("__metricbridge_grid_arrow")
    return cell_sql, width


def sql_bins(con: duckdb.DuckDBPyConnection, relation: str, edges: np.ndarray) -> str:
    """SQL selecting every column of ``relation`` (which has a DOUBLE column ``s``) and ``b``, the bin of ``s``
    among ``edges``: exactly ``np.searchsorted(edges, s, side="right") - 1`` (-1 below the first edge)."""
    edges = np.asarray(edges, dtype=np.float64)
    grid = _grid(con, edges)
    if grid is None:  # a handful of edges, or a range too wide for a grid: compare with each
        above = " + ".join(f"CAST(s >= CAST('{float(e)!r}' AS DOUBLE) AS BIGINT)" for e in edges) or "0"
        return f"SELECT *, {above} - 1 AS b FROM ({relation})"
    cell_sql, width = grid
    above = " + ".join(f"CAST(r.s >= grid.e{index} AS BIGINT)" for index in range(width))
    return (f"SELECT r.* EXCLUDE (g), grid.lo - 1 + {above} AS b FROM (SELECT *, {cell_sql} AS g FROM ({relation})) "
            "AS r JOIN __metricbridge_grid AS grid ON r.g = grid.g")


def _sql_groups(con: duckdb.DuckDBPyConnection, query: _Query, edges: np.ndarray, progress: Progress | None,
                what: str) -> dict[str, np.ndarray]:
    aggregates = group_aggregates(mode="binned", weighted=query.weighted, sums=query.sums)
    keys = ", ".join(f"{column} AS {quote(f'key:{name}')}" for column, name in zip(query.key_columns(), query.keys,
                                                                                   strict=True))
    select = ", ".join(["b AS bin", "y AS label", *([keys] if keys else []),
                        *(f"{sql} AS {quote(name)}" for name, sql in aggregates.items())])
    sql = f"SELECT {select} FROM ({sql_bins(con, query.sql, edges)}) GROUP BY ALL"
    groups = _with_progress(con, lambda: _columns(con.sql(sql, params=query.params or None).to_arrow_table()),
                            progress, what)
    groups["score"] = edges[groups.pop("bin")]
    return groups


def _samples(con: duckdb.DuckDBPyConnection, query: _Query, n_rows: int, positives: int) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """The scores and the positives' scores that place the bin edges: every one up to EDGE_SAMPLE (as the numpy
    builder), else a sample of EDGE_SAMPLE rows by the hash of their place (:func:`_hash_samples`), or, for a
    source without a cheap place (CSV), DuckDB's fixed-seed reservoir sample (on one thread, so the seed decides
    it)."""
    params = query.params or None
    if n_rows <= EDGE_SAMPLE:
        got = con.sql(f"SELECT s, y FROM ({query.sql})", params=params).fetchnumpy()
        scores = np.asarray(got["s"], dtype=np.float64)
        return scores, scores[np.asarray(got["y"]) == 1]
    if query.identity is not None:
        return _hash_samples(con, query, n_rows, positives)
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0]
    con.execute("SET threads = 1")  # DuckDB's reservoir sample repeats for a seed on one thread
    try:
        sample = con.sql(f"SELECT s FROM ({query.sql}) {_SAMPLE.format(rows=EDGE_SAMPLE)}",
                         params=params).fetchnumpy()["s"]
        reservoir = _SAMPLE.format(rows=min(EDGE_SAMPLE, max(positives, 1)))
        positive = con.sql(f"SELECT s FROM (SELECT s FROM ({query.sql}) WHERE y = 1) {reservoir}",
                           params=params).fetchnumpy()["s"]
    finally:
        con.execute(f"SET threads = {int(threads[0])}")
    return np.sort(np.asarray(sample, dtype=np.float64)), np.sort(np.asarray(positive, dtype=np.float64))


def _hash_samples(con: duckdb.DuckDBPyConnection, query: _Query, n_rows: int,
                  positives: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of lowest hash of their place (file and row): a uniform sample without replacement, the same
    on every run and with any number of threads, from one parallel scan. About _OVERSAMPLE x EDGE_SAMPLE rows
    (and positives) pass a hash threshold; the EDGE_SAMPLE lowest hashes of each are kept."""
    top = float(2**64)
    share, positive_share = (min(_OVERSAMPLE * EDGE_SAMPLE / max(count, 1), 1.0) for count in (n_rows, positives))
    every, positive = int(top * share) if share < 1 else 2**64 - 1, int(top * positive_share) if (
        positive_share < 1) else 2**64 - 1
    got = con.sql(f"SELECT s, y, h FROM ({query.identity}) WHERE h <= {every}::UBIGINT OR (y = 1 AND h <= "
                  f"{positive}::UBIGINT)", params=query.params or None).fetchnumpy()
    scores, labels, hashes = (np.asarray(got[name]) for name in ("s", "y", "h"))

    def lowest(kept: np.ndarray) -> np.ndarray:
        order = np.lexsort((scores[kept], hashes[kept]))[:EDGE_SAMPLE]  # ties of hashes broken by score
        return np.sort(scores[kept][order].astype(np.float64))

    return lowest(hashes <= every), lowest((labels == 1) & (hashes <= positive))


def _exact_refusal(name: str, score: str, cells: int, limit: int) -> InputError:
    return InputError(
        f"{name}: score column {score!r} would count about {cells:,} exact cells (one per distinct score and "
        f"label), more than fit in the memory allowed here ({limit:,} cells of about {BYTES_PER_EXACT_CELL} bytes; "
        "max_exact_cells raises it). Count in bins instead: leave out --exact (binned counting is automatic "
        f"above 100,000 distinct scores), and --bins N sets how many (default {DEFAULT_BINS:,}).")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SourcePredictions(Predictions):
    """Predictions read in place (a DuckDB view, :func:`open_source`), counted in DuckDB.

    ``max_exact_cells`` bounds exact counting (cells collected into memory); ``binning`` says how binned mode
    counts: ``"stream"`` (DuckDB's scan in Arrow batches, counted by the numpy builder) or ``"sql"`` (a GROUP BY
    in DuckDB of the bin found in SQL). Everything else is a :class:`Predictions`.
    """

    max_exact_cells: int = 1 << 22
    binning: Binning = "stream"

    @classmethod
    def of(cls, predictions: Predictions, *, max_exact_cells: int, binning: Binning) -> SourcePredictions:
        values = {f.name: getattr(predictions, f.name) for f in fields(Predictions)}
        return cls(**values, max_exact_cells=max_exact_cells, binning=binning)

    def counts(self, score: str, *, mode: CountingRequest = "auto", bins: int = DEFAULT_BINS,
               keys: Sequence[str] = (), sums: Sequence[str] = (), decisions: Sequence[str] = (),
               edges_at: Sequence[float] = (), key_sql: Mapping[str, str] | None = None,
               progress: Progress | None = None) -> ScoreCounts:
        """ScoreCounts of one score column, counted in DuckDB (the arguments of :meth:`Predictions.counts`).

        ``progress`` hears "counting SCORE": a first scan (rows, score range), the sample of binned edges, then
        the count. Raises InputError when exact cells would not fit (see ``max_exact_cells``).
        """
        if score not in self.table.columns:
            raise InputError(f"{self.file}: has no score column {score!r}; its columns are "
                             f"{', '.join(self.table.columns)}.")
        if mode not in ("auto", "exact", "binned"):
            raise InputError(f"mode must be 'auto', 'exact' or 'binned', not {mode!r}.")
        for column in decisions:
            self.check_decisions(column)
        all_keys = (*keys, *decisions)
        key_sql = {column: decision_sql(column) for column in decisions} | dict(key_sql or {})
        columns = [f"CAST({quote(score)} AS DOUBLE) AS s", f"CAST(({self.label_sql}) AS TINYINT) AS y"]
        columns += [] if self.weight is None else [f"CAST({quote(self.weight)} AS DOUBLE) AS w"]
        columns += [f"{key_sql.get(key, quote(key))} AS k{index}" for index, key in enumerate(all_keys)]
        columns += [f"CAST({quote(value)} AS DOUBLE) AS v{index}" for index, value in enumerate(sums)]
        place = self.table.row
        cheap_place = self.table.format != "csv"  # a CSV file's row numbers are a window over the whole file
        query = _Query(sql=f"SELECT {', '.join(columns)} FROM {TABLE} WHERE {self.where}",
                       params=list(self.label_params), weighted=self.weight is not None, keys=tuple(all_keys),
                       sums=tuple(sums),
                       identity=f"SELECT s, y, hash({place}) AS h FROM (SELECT {', '.join(columns[:2])}, {place} "
                                f"FROM {TABLE} WHERE {self.where})" if cheap_place else None)
        what = f"counting {score}"
        cursor = self.table.con.cursor()  # its own results: one the caller left unread stays as it was
        try:
            return self._count(cursor, query, score, mode, bins, edges_at, progress, what)
        except duckdb.Error as error:
            raise _read_error(self.file, error) from error
        finally:
            cursor.close()

    def _count(self, con: duckdb.DuckDBPyConnection, query: _Query, score: str, mode: CountingRequest, bins: int,
               edges_at: Sequence[float], progress: Progress | None, what: str) -> ScoreCounts:
        if progress:
            progress(0.0, what)
        # the cells exact counting would make, estimated (HyperLogLog) in the same scan as the range
        cell_key = ", ".join(["s", "y", *query.key_columns()])
        distinct = "" if mode == "binned" else f", approx_count_distinct(row({cell_key}))"
        first_scan = f"SELECT count(*), min(s), max(s), count_if(y = 1){distinct} FROM ({query.sql})"

        def scan() -> tuple[Any, ...]:
            return tuple(con.execute(first_scan, query.params).fetchall()[0])

        known = self.score_ranges.get(score) if self.score_ranges and self.where == "TRUE" else None
        if mode == "binned" and known is not None and known["min"] is not None and self.positive_rows is not None:
            # every row is in use: validation found the rows, positives and score range already
            n_rows, low_found, high_found, positives = self.rows, known["min"], known["max"], self.positive_rows
            cells: list[Any] = []
        else:
            n_rows, low_found, high_found, positives, *cells = _with_progress(
                con, scan, scaled_progress(progress, 0.0, 0.15), what)
        if not n_rows:
            return counts_from_groups({}, mode="exact", bins=None, score_min=math.nan, score_max=math.nan,
                                      keys=query.keys, sums=query.sums, weighted=query.weighted)
        low, high = float(low_found), float(high_found)
        estimated = int(cells[0]) if cells else 0
        chosen: Literal["exact", "binned"] = "exact"
        sample = positive_sample = np.zeros(0)
        if mode != "exact":
            sample, positive_sample = _samples(con, query, int(n_rows), int(positives))
            chosen = choose_counting(mode, rows=int(n_rows), sample=sample)
            if chosen == "exact" and estimated > self.max_exact_cells:  # "auto": more cells than fit, so bins
                chosen = "binned"
        if progress:
            progress(0.2, what)
        rest = scaled_progress(progress, 0.2, 1.0)
        if chosen == "exact":
            if estimated > self.max_exact_cells:
                raise _exact_refusal(self.file, score, estimated, self.max_exact_cells)
            groups = _exact_groups(con, query, rest, what)
        else:
            edges = edges_from_samples(sample, positive_sample, bins=bins, low=low, high=high,
                                       at=edges_at)
            if self.binning == "sql":
                groups = _sql_groups(con, query, edges, rest, what)
            else:
                groups = _stream_groups(con, query, edges, int(n_rows), rest, what)
        counts = counts_from_groups(groups, mode=chosen, bins=bins if chosen == "binned" else None,
                                    score_min=low, score_max=high, keys=query.keys, sums=query.sums,
                                    weighted=query.weighted)
        if progress:
            progress(1.0, what)
        return counts

    def preview(self, limit: int = 20) -> pd.DataFrame:
        """The first rows in use (as :meth:`Predictions.preview`), read from the start of the data rather than
        sorted out of all of it."""
        table = self.table
        number = table.free_name("row")
        con = table.con
        con.execute("SET preserve_insertion_order = true")  # LIMIT then stops at the first rows, in order
        try:
            frame = con.execute(
                f"SELECT * FROM (SELECT {table.spreadsheet_row} AS {quote(number)}, {table.star}, {table.row} FROM "
                f"{TABLE} WHERE {self.where} LIMIT {int(limit)}) ORDER BY {table.row}").df()
        finally:
            con.execute("SET preserve_insertion_order = false")
        frame = frame[[number, *table.columns]].set_index(number)
        frame.index.name = "row"
        return frame


# -- the public calls -------------------------------------------------------------------------------------------
def open_source(
    source: str | Path,
    *,
    table: str | None = None,
    name: str | None = None,
    label: str | None = None,
    scores: Sequence[str] = (),
    positive: str | None = None,
    weight: str | None = None,
    id: str | None = None,
    drop_missing: bool = False,
    exclude: Sequence[str] = (),
    labels_pending: bool = False,
    memory_limit: int | None = None,
    temp_directory: str | Path | None = None,
    max_exact_cells: int | None = None,
    binning: Binning = "stream",
    progress: Progress | None = None,
) -> SourcePredictions:
    """Open predictions in place and validate them as an upload is validated (the arguments of
    :func:`metricbridge.loading.load_predictions`).

    ``source`` is a Parquet file, a folder of Parquet parts (read recursively, hive partitions ``key=value``
    becoming columns; files starting with "." or "_" left out), a glob of Parquet files, a CSV file (UTF-8), or
    a DuckDB database file (read only) with ``table`` or written ``file.duckdb:table`` (its only table when it
    has one). ``memory_limit`` (bytes) and ``temp_directory`` set DuckDB's (see :func:`connect`);
    ``max_exact_cells`` bounds exact counting (default what the memory allows: ``memory_limit`` over
    BYTES_PER_EXACT_CELL). ``progress`` hears "reading NAME", then "checking NAME". Raises InputError for
    anything an upload would be refused for, with the same messages (rows named "7 of part-3.parquet" in a
    folder).
    """
    if binning not in ("stream", "sql"):
        raise InputError(f"binning must be 'stream' or 'sql', not {binning!r}.")
    limit = memory_budget() if memory_limit is None else int(memory_limit)
    con = connect(memory_limit=limit, temp_directory=temp_directory)
    try:
        found = _resolve(con, source, table, name)
        if progress:
            progress(0.0, f"reading {found.name.strip(chr(39))}")
        try:
            view = _with_progress(con, lambda: view_table(
                con, found.sql, name=found.name, format=found.format, row=found.row, part=found.part,
                part_name=found.part_name, names=found.names, notes=found.notes), progress and scaled_progress(
                progress, 0.0, 0.3), f"reading {found.name.strip(chr(39))}")
            checked = predictions_of(view, label=label, scores=scores, positive=positive, weight=weight, id=id,
                                     drop_missing=drop_missing, exclude=exclude, labels_pending=labels_pending,
                                     progress=scaled_progress(progress, 0.3, 1.0))
        except duckdb.Error as error:
            raise _read_error(found.name, error) from error
    except BaseException:
        con.close()
        raise
    cells = max_exact_cells if max_exact_cells is not None else limit // BYTES_PER_EXACT_CELL
    return SourcePredictions.of(checked, max_exact_cells=int(cells), binning=binning)


def count_source(source: str | Path, *, score: str | None = None, mode: CountingRequest = "auto",
                 bins: int = DEFAULT_BINS, keys: Sequence[str] = (), sums: Sequence[str] = (),
                 decisions: Sequence[str] = (), edges_at: Sequence[float] = (), progress: Progress | None = None,
                 **options: Any) -> ScoreCounts:
    """ScoreCounts of one score column of a source read in place: :func:`open_source` (``options`` are its
    arguments; ``score`` its only score column, guessed when not given), then ``counts``."""
    opened = open_source(source, scores=(score,) if score else (), progress=scaled_progress(progress, 0.0, 0.3),
                         **options)
    try:
        return opened.counts(opened.scores[0], mode=mode, bins=bins, keys=keys, sums=sums, decisions=decisions,
                             edges_at=edges_at, progress=scaled_progress(progress, 0.3, 1.0))
    finally:
        opened.table.con.close()


def evaluate_source(
    source: str | Path,
    *,
    table: str | None = None,
    name: str | None = None,
    label: str | None = None,
    scores: Sequence[str] = (),
    positive: str | None = None,
    weight: str | None = None,
    id: str | None = None,
    drop_missing: bool = False,
    threshold: float | None = None,
    mode: CountingRequest = "auto",
    bins: int = DEFAULT_BINS,
    ask_threshold_for_margins: bool = True,
    scenario: Scenario | None = None,
    criteria: Criteria | None = None,
    resamples: int | None = None,
    seed: int = 0,
    band_bins: int | None = None,
    preview_rows: int = 50,
    memory_limit: int | None = None,
    temp_directory: str | Path | None = None,
    max_exact_cells: int | None = None,
    binning: Binning = "stream",
    progress: Progress | None = None,
) -> EvaluationReport:
    """:func:`metricbridge.evaluate.evaluate_file` for a source read in place (see :func:`open_source`): the
    same report, the same JSON (``to_dict``), counted in DuckDB."""
    from metricbridge.evaluate import evaluate_predictions, scenario_columns
    from metricbridge.uncertainty import DEFAULT_BAND_BINS, DEFAULT_RESAMPLES

    opened = open_source(source, table=table, name=name, label=label, scores=scores, positive=positive,
                         weight=weight, id=id, drop_missing=drop_missing, exclude=scenario_columns(scenario),
                         memory_limit=memory_limit, temp_directory=temp_directory, max_exact_cells=max_exact_cells,
                         binning=binning, progress=scaled_progress(progress, 0.0, 0.4))
    return evaluate_predictions(opened, threshold=threshold, mode=mode, bins=bins,
                                ask_threshold_for_margins=ask_threshold_for_margins, scenario=scenario,
                                criteria=criteria, resamples=DEFAULT_RESAMPLES if resamples is None else resamples,
                                seed=seed, band_bins=DEFAULT_BAND_BINS if band_bins is None else band_bins,
                                preview_rows=preview_rows, progress=scaled_progress(progress, 0.4, 1.0))


# -- for the app and the command line: which data are read in place, and what they are ----------------------------

IN_PLACE_BYTES = 1 << 30  # a file larger than this is read in place, not loaded into memory


def reads_in_place(source: str | Path) -> bool:
    """Whether ``source`` is read where it is rather than loaded: a folder, a glob, ``DB.duckdb:TABLE``, a
    DuckDB file, or a file larger than IN_PLACE_BYTES."""
    text, path = str(source), Path(source)
    if path.is_dir() or (not path.exists() and (any(c in text for c in "*?[") or ".duckdb:" in text)):
        return True
    return path.is_file() and (path.suffix.lower() == ".duckdb" or path.stat().st_size > IN_PLACE_BYTES)


def source_digest(source: str | Path) -> str:
    """What identifies a source read in place without reading it whole: its path and the name, size and time
    of each of its files (any part rewritten or added gives another digest)."""
    import hashlib

    text = str(source)
    head = text.rpartition(".duckdb:")[0] + ".duckdb" if ".duckdb:" in text and not Path(text).exists() else text
    path = Path(head)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        [path] if path.is_file() else sorted(Path(p) for p in glob.glob(head, recursive=True)))
    sha = hashlib.sha256(text.encode())
    for file in files:
        info = file.stat()
        sha.update(f"\0{file}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return sha.hexdigest()


def inspect_source(source: str | Path, *, table: str | None = None, name: str | None = None) -> Any:
    """The Data page's first look at a source read in place (a ``FileOverview``: columns and guesses), as
    :func:`metricbridge.loading.inspect_file` gives for an upload."""
    from metricbridge.loading import overview

    con = connect()
    try:
        found = _resolve(con, source, table, name)
        try:
            view = view_table(con, found.sql, name=found.name, format=found.format, row=found.row, part=found.part,
                              part_name=found.part_name, names=found.names, notes=found.notes)
            return overview(view)
        except duckdb.Error as error:
            raise _read_error(found.name, error) from error
    finally:
        con.close()
