"""Builders of ScoreCounts: from numpy arrays, and from a DuckDB table by a GROUP BY.

Both produce identical cells for the same data (a test holds them to it). Exact mode keys cells by the
distinct score; binned mode keys them by the lower edge of a score bin whose edges follow the score
distribution, so counting is O(n log bins) with no full sort. The builders add the per-cell sums that
Brier score, log loss and the calibration table need, from raw scores in the same pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa
from duckdb.func import ARROW
from duckdb.sqltypes import BIGINT, DOUBLE

from metricbridge.counts import ScoreCounts

__all__ = [
    "AUTO_BINNED_ABOVE", "DEFAULT_BINS", "CountingRequest", "bin_edges", "choose_mode", "counts_from_arrays",
    "counts_from_table", "quote",
]

DEFAULT_BINS = 10_000
AUTO_BINNED_ABOVE = 100_000  # distinct scores above which "auto" switches to binned mode
EDGE_SAMPLE = 200_000  # scores sampled to place bin edges
_EPS = float(np.finfo(np.float64).eps)  # scikit-learn's log-loss clip for float64
_CHUNK = 1 << 20

CountingRequest = Literal["auto", "exact", "binned"]


def quote(identifier: str) -> str:
    """A SQL identifier, double-quoted with inner quotes doubled: column names are data."""
    return '"' + identifier.replace('"', '""') + '"'


def choose_mode(requested: CountingRequest, distinct_scores: int) -> Literal["exact", "binned"]:
    if requested == "auto":
        return "binned" if distinct_scores > AUTO_BINNED_ABOVE else "exact"
    return requested


def bin_edges(sample: np.ndarray, bins: int, *, low: float, high: float) -> np.ndarray:
    """Increasing bin edges that follow the distribution of ``sample``; ``edges[0] == low``.

    The edges are sample quantiles, so each bin holds about the same number of items; when every
    score is a probability, the reliability-bin edges k/10 are added so a calibration bin never
    straddles a score bin.
    """
    quantiles = np.quantile(sample, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="inverted_cdf")
    edges = np.r_[low, quantiles]
    if 0.0 <= low and high <= 1.0:
        edges = np.r_[edges, np.linspace(0.0, 1.0, 11)]
    edges = np.unique(edges)
    return edges[edges >= low]


def _log_loss_terms(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(scores, _EPS, 1 - _EPS)
    return -np.log(np.where(labels == 1, clipped, 1 - clipped))


def _cell_sums(cell_ids: np.ndarray, n_cells: int, y: np.ndarray, s: np.ndarray, w: np.ndarray | None,
               sums: Mapping[str, np.ndarray], *, raw_score_sums: bool) -> dict[str, np.ndarray]:
    """Per-cell row counts and weighted sums.

    With few cells the rows go through in chunks, so per-row temporaries stay small; with many cells (exact
    mode) one pass per figure is cheaper than re-adding cell-sized arrays per chunk. ``raw_score_sums``
    adds the sums that need each row's own score (binned cells hold many scores).
    """
    def weight(part: slice) -> np.ndarray | float:
        return 1.0 if w is None else w[part]

    def weighted(values: np.ndarray) -> Callable[[slice], np.ndarray | None]:
        return lambda part: weight(part) * values[part]

    figures: dict[str, Callable[[slice], np.ndarray | None]] = {"rows": lambda part: None}
    if w is not None:
        figures["weights"] = lambda part: w[part]
    if raw_score_sums:
        figures |= {
            "score_sums": lambda part: weight(part) * s[part],
            "brier_sums": lambda part: weight(part) * (y[part] - s[part]) ** 2,
            "log_loss_sums": lambda part: weight(part) * _log_loss_terms(y[part], s[part]),
        }
    figures |= {f"sum:{name}": weighted(values) for name, values in sums.items()}
    chunk = _CHUNK if n_cells <= _CHUNK else max(len(cell_ids), 1)
    totals = {name: np.zeros(n_cells) for name in figures}
    for start in range(0, len(cell_ids), chunk):
        part = slice(start, start + chunk)
        ids = cell_ids[part]
        for name, values in figures.items():
            totals[name] += np.bincount(ids, weights=values(part), minlength=n_cells)
    return totals  # "rows" as float64 counts; without weights there is no "weights" entry (it equals rows)


def _group_codes(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Dense cell id per row over several code columns, and each column's value per cell."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        code = code * (int(column.max()) + 1 if len(column) else 1) + column
    unique_codes, cell_ids = np.unique(code, return_inverse=True)
    per_cell, rest = [], unique_codes
    for column in reversed(columns):
        radix = int(column.max()) + 1 if len(column) else 1
        per_cell.append(rest % radix)
        rest = rest // radix
    return cell_ids, per_cell[::-1]


def _sample(scores: np.ndarray) -> np.ndarray:
    if len(scores) <= EDGE_SAMPLE:
        return scores
    return np.random.default_rng(0).choice(scores, EDGE_SAMPLE, replace=False)


def _auto_mode(scores: np.ndarray) -> Literal["exact", "binned"]:
    """Binned when there are more than 100,000 distinct scores, judged on a fixed-seed sample of 200,000
    (a sample with that many distinct values proves it, and costs a small sort instead of a full one)."""
    if len(scores) <= AUTO_BINNED_ABOVE:
        return "exact"
    return choose_mode("auto", len(np.unique(_sample(scores))))


def _distinct_codes(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(scores, return_inverse=True) with about half its peak memory: one sort, small int codes."""
    order = np.argsort(scores)
    ordered = scores[order]
    starts = np.empty(len(ordered), dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    distinct = ordered[starts]
    del ordered
    code_type: type[np.signedinteger] = np.int32 if len(distinct) < 2**30 else np.int64  # x 2 + label fits
    group = np.cumsum(starts, dtype=code_type)
    np.subtract(group, 1, out=group)
    del starts
    codes = np.empty(len(scores), dtype=code_type)
    codes[order] = group
    return codes, distinct


def _score_codes(scores: np.ndarray, mode: str, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row the index of its score cell, and the score of each cell (distinct score or bin edge)."""
    if mode == "exact":
        return _distinct_codes(scores)
    edges = bin_edges(_sample(scores), bins, low=float(scores.min()), high=float(scores.max()))
    codes = np.searchsorted(edges, scores, side="right") - 1
    return codes, edges


def counts_from_arrays(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    mode: CountingRequest = "auto",
    bins: int = DEFAULT_BINS,
    keys: Mapping[str, np.ndarray] | None = None,
    sums: Mapping[str, np.ndarray] | None = None,
) -> ScoreCounts:
    """Count 0/1 labels ``y_true`` against finite scores ``y_score`` (arrays of one length).

    ``keys`` are extra cell keys (integer codes, e.g. a 0/1 status-quo decision); ``sums`` are value
    columns summed per cell (weighted). ``mode="auto"`` bins when distinct scores exceed 100,000.
    """
    y = np.asarray(y_true).astype(np.int8, copy=False)
    s = np.asarray(y_score, dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    keys = {name: np.asarray(values) for name, values in (keys or {}).items()}
    sums = {name: np.asarray(values, dtype=np.float64) for name, values in (sums or {}).items()}
    if len(s) == 0:
        empty = np.zeros(0)
        return ScoreCounts(scores=empty, labels=empty, rows=empty, weights=empty, score_min=np.nan, score_max=np.nan,
                           keys={k: empty for k in keys}, sums={k: empty for k in sums})
    chosen = _auto_mode(s) if mode == "auto" else mode
    score_codes, cell_scores = _score_codes(s, chosen, bins)
    key_codes, key_values = [], []
    for values in keys.values():
        uniques, codes = np.unique(values, return_inverse=True)
        key_codes.append(codes)
        key_values.append(uniques)
    if key_codes:
        cell_ids, per_cell = _group_codes([score_codes, y.astype(np.int64), *key_codes])
        n_cells = len(per_cell[0])
    else:  # the common case: one dense code (score x 2 + label), no second sort
        cell_ids = score_codes * 2
        cell_ids += y
        del score_codes
        n_cells = 2 * len(cell_scores)
    totals = _cell_sums(cell_ids, n_cells, y, s, w, sums, raw_score_sums=chosen == "binned")
    del cell_ids
    kept = np.flatnonzero(totals["rows"])
    cells = {name: values[kept] for name, values in totals.items()}
    del totals  # the full arrays are 2 x distinct scores long: free them before anything else is made
    if key_codes:
        score_index, labels = per_cell[0][kept], per_cell[1][kept]
        key_cells = {name: uniques[codes[kept]] for name, uniques, codes in
                     zip(keys, key_values, per_cell[2:], strict=True)}
    else:  # cell id = score index x 2 + label: the label is its parity, the score index the rest
        labels, key_cells = kept.astype(np.int8, casting="unsafe") & 1, {}
        score_index = np.right_shift(kept, 1, out=kept)
    scores = cell_scores[score_index]
    del kept, score_index
    rows = cells["rows"].astype(np.int64)  # cast only the kept cells: the full arrays are 2 x distinct scores
    return ScoreCounts(
        scores=scores, labels=labels, rows=rows, weights=cells.get("weights", cells["rows"]),
        # exact cells leave the raw-score sums to be derived from their one score (less memory)
        score_sums=cells.get("score_sums"), brier_sums=cells.get("brier_sums"),
        log_loss_sums=cells.get("log_loss_sums"),
        score_min=float(s.min()), score_max=float(s.max()), mode=chosen,
        bins=bins if chosen == "binned" else None, keys=key_cells,
        sums={name: cells[f"sum:{name}"] for name in sums},
    )


def _register_bin_function(con: duckdb.DuckDBPyConnection, edges: np.ndarray) -> str:
    """Register SQL functions NAME(score) -> bin index and NAME_edge(index) -> the bin's lowest edge."""
    name = f"mb_bin_{uuid.uuid4().hex[:12]}"

    def bin_of(scores: pa.Array) -> pa.Array:
        return pa.array(np.searchsorted(edges, scores.to_numpy(zero_copy_only=False), side="right") - 1)

    def edge_of(index: pa.Array) -> pa.Array:
        return pa.array(edges[index.to_numpy(zero_copy_only=False)])

    con.create_function(name, bin_of, [DOUBLE], BIGINT, type=ARROW, side_effects=False)
    con.create_function(f"{name}_edge", edge_of, [BIGINT], DOUBLE, type=ARROW, side_effects=False)
    return name


def counts_from_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    score: str,
    label_sql: str,
    score_sql: str | None = None,
    params: Sequence[object] = (),
    weight: str | None = None,
    where: str = "TRUE",
    mode: CountingRequest = "auto",
    bins: int = DEFAULT_BINS,
    keys: Sequence[str] = (),
    sums: Sequence[str] = (),
    key_sql: Mapping[str, str] | None = None,
) -> ScoreCounts:
    """Count one score column of a DuckDB table with a GROUP BY; nothing row-sized leaves DuckDB.

    ``label_sql`` is a SQL expression giving 1 for positives and 0 for negatives; ``score_sql``, when given,
    replaces the score column (a 0/1 decision expression); ``params`` binds their ``?`` in that order
    (score, then label). ``where`` filters rows (e.g. dropped missing scores). ``keys`` are columns, or with
    ``key_sql`` expressions built by the loading layer (no user values inline), that split cells further.
    Identifiers are quoted here.
    """
    key_sql = key_sql or {}
    s = score_sql or f"CAST({quote(score)} AS DOUBLE)"
    w = "1.0" if weight is None else f"CAST({quote(weight)} AS DOUBLE)"
    base = (f"SELECT {s} AS s, CAST(({label_sql}) AS TINYINT) AS y, {w} AS w"
            + "".join(f", {key_sql.get(k, quote(k))} AS k{i}" for i, k in enumerate(keys))
            + "".join(f", CAST({quote(v)} AS DOUBLE) AS v{i}" for i, v in enumerate(sums))
            + f" FROM {quote(table)} WHERE {where}")
    params = list(params)
    lo, hi, distinct = con.execute(
        f"SELECT min(s), max(s), approx_count_distinct(s) FROM ({base})", params).fetchone() or (None,) * 3
    if lo is None:
        return counts_from_arrays(np.zeros(0), np.zeros(0), keys={k: np.zeros(0) for k in keys},
                                  sums={v: np.zeros(0) for v in sums})
    chosen = choose_mode(mode, int(distinct)) if mode == "auto" else mode
    if chosen == "exact":
        cell, source, udf = "s", f"({base})", None
    else:
        sample = con.execute(
            f"SELECT s FROM ({base}) USING SAMPLE reservoir({EDGE_SAMPLE} ROWS) REPEATABLE (0)", params
        ).fetchnumpy()["s"]
        edges = bin_edges(np.asarray(sample, dtype=np.float64), bins, low=lo, high=hi)
        udf = _register_bin_function(con, edges)
        # The bin of each row is a vectorized numpy searchsorted over Arrow batches: O(n log bins) with
        # constant memory (an ASOF JOIN against the edges held the whole table in a sort).
        cell, source = f"{udf}_edge({udf}(s))", f"({base})"
    clipped = f"greatest(least(s, {1 - _EPS!r}), {_EPS!r})"  # constants, not user data
    ll = f"-ln(CASE WHEN y = 1 THEN {clipped} ELSE 1 - {clipped} END)"
    key_cols = "".join(f", k{i}" for i in range(len(keys)))
    # exact cells hold one score each: their raw-score sums are derived later, not summed here
    raw = ("" if chosen == "exact" else
           f", sum(w * s) AS score_sum, sum(w * (y - s) * (y - s)) AS brier_sum, sum(w * {ll}) AS log_loss_sum")
    query = (
        f"SELECT {cell} AS score, y{key_cols}, count(*) AS rows, sum(w) AS weight{raw}"
        + "".join(f", sum(w * v{i}) AS vsum{i}" for i in range(len(sums)))
        + f" FROM {source} GROUP BY ALL ORDER BY score, y{key_cols}"
    )
    try:
        cells = con.execute(query, params).fetchnumpy()
    finally:
        if udf is not None:
            con.remove_function(udf)
            con.remove_function(f"{udf}_edge")
    return ScoreCounts(
        scores=cells["score"], labels=cells["y"], rows=cells["rows"], weights=cells["weight"],
        score_sums=cells.get("score_sum"), brier_sums=cells.get("brier_sum"),
        log_loss_sums=cells.get("log_loss_sum"),
        score_min=float(lo), score_max=float(hi), mode=chosen, bins=bins if chosen == "binned" else None,
        keys={k: np.asarray(cells[f"k{i}"]) for i, k in enumerate(keys)},
        sums={v: np.asarray(cells[f"vsum{i}"], dtype=np.float64) for i, v in enumerate(sums)},
    )
