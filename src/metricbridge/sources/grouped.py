"""ScoreCounts from the rows of a GROUP BY: the contract every engine (DuckDB, Spark) counts to.

An engine counts close to the data with one aggregation grouped by (cell score, label, *keys) and hands the
collected groups to :func:`counts_from_groups`, which orders and shapes the cells exactly as the numpy builder
(:func:`metricbridge.loading.counts_from_arrays`) does, so that for the same rows, mode and edges every field of
the ScoreCounts is the same whichever engine counted (floating-point sums up to the order of their additions).

The groups, one array per column, one element per group:

- ``"score"``: the cell's score: the distinct score (``mode="exact"``), or the lowest edge of the row's bin
  (``mode="binned"``: ``edges[i]`` for the bin ``i`` with ``edges[i] <= score < edges[i + 1]``, the last bin
  open above; the edges from :func:`edges_from_samples`).
- ``"label"``: 1 for a positive row, 0 for a negative one.
- ``"key:NAME"`` for each ``NAME`` of ``keys``: the key's value (a recorded decision as 0/1, a segment, a time
  window); a column named ``NAME`` alone is read when there is no ``"key:NAME"`` (a key's name may then not be
  the name of another column of the groups, such as "rows").
- the aggregates of :func:`group_aggregates`, under the names it gives: ``"rows"``, the sums that need each
  row's raw score (binned mode only: ``"score_sums"``, ``"brier_sums"``, ``"log_loss_sums"``), the weight
  sums (weighted only: ``"weights"``, ``"weight_squares"``, ``"weight_cubes"``) and, per value column ``name``,
  ``"sum:name"``, ``"square:name"``, ``"cube:name"`` and (weighted only) ``"cross:name"``. Without weights
  ``"weights"`` may be left out (it equals ``"rows"``).

Several groups of the same (score, label, *keys) are added up, so the groups of two parts (files, Spark
partitions, halves of a table) may simply be concatenated: that is a merge. Binned counts of parts merge this
way only when the parts were binned on the same edges.

Edges: binned counting places its edges with :func:`edges_from_samples` (:func:`metricbridge.loading.builders.
bin_edges`, the one rule) from a sample of at most :data:`EDGE_SAMPLE` scores and one of at most as many
positives' scores, between the lowest and highest score. With at most :data:`EDGE_SAMPLE` rows the samples are
every score and every positive's score, as in the numpy builder, so the cells are identical; above, each engine
draws its own fixed-seed sample (numpy's depends on the rows' order), so the edges differ by sampling error.
``mode="auto"`` is decided by :func:`choose_counting`, the numpy builder's rule, on the same sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from metricbridge.counts import LOG_LOSS_EPS, ScoreCounts
from metricbridge.loading.builders import (
    AUTO_BINNED_ABOVE,
    EDGE_SAMPLE,
    CountingRequest,
    bin_edges,
    choose_mode,
    key_codes,
)

__all__ = ["EDGE_SAMPLE", "GROUP_COLUMNS", "choose_counting", "counts_from_groups", "edges_from_samples",
           "group_aggregates", "groups_of"]

GROUP_COLUMNS = ("score", "label")  # the first grouping columns, before the keys
_RAW = ("score_sums", "brier_sums", "log_loss_sums")
_MOMENTS = ("weight_squares", "weight_cubes")


def _double(value: float) -> str:
    """A float64 constant in SQL that every engine reads as that very double (a bare 0.9999999999999998 is a
    DECIMAL to DuckDB, and a DECIMAL compared with a DOUBLE may round)."""
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def group_aggregates(*, mode: Literal["exact", "binned"], weighted: bool, sums: Sequence[str] = (),
                     y: str = "y", s: str = "s", w: str = "w", values: Sequence[str] | None = None) -> dict[str, str]:
    """The aggregates of one GROUP BY, name -> SQL expression, in SQL that DuckDB and Spark both read.

    The expressions refer to the columns ``y`` (0/1 label, an integer), ``s`` (the raw score, DOUBLE), ``w``
    (the weight, DOUBLE, when ``weighted``) and, per value column of ``sums``, ``values[i]`` (DOUBLE; by default
    ``v0``, ``v1``...: a column's name is data, so an engine projects each value column under a name of its
    own first). Every per-row term is the one the numpy builder computes, operation for operation, so each term
    is the same double; only the order of additions differs between engines.
    """
    if len(set(sums)) != len(sums):
        raise ValueError(f"value columns named twice: {list(sums)}")
    columns = [f"v{index}" for index in range(len(sums))] if values is None else list(values)
    if len(columns) != len(sums):
        raise ValueError("give one value column expression per name of sums")

    def weighted_(term: str) -> str:
        return f"{w} * ({term})" if weighted else term

    found = {"rows": "count(*)"}
    if mode == "binned":
        low, high = _double(LOG_LOSS_EPS), _double(1 - LOG_LOSS_EPS)
        clipped = f"greatest(least({s}, {high}), {low})"  # np.clip(s, eps, 1 - eps)
        found["score_sums"] = f"sum({weighted_(s)})"
        found["brier_sums"] = f"sum({weighted_(f'({s} - {y}) * ({s} - {y})')})"
        # the log of the probability of the true class, summed, then negated (as the numpy builder does)
        log_p = f"ln(CASE WHEN {y} = 1 THEN {clipped} ELSE 1.0 - {clipped} END)"
        found["log_loss_sums"] = f"-sum({weighted_(log_p)})"
    if weighted:
        found["weights"] = f"sum({w})"
        found["weight_squares"] = f"sum({w} * {w})"
        found["weight_cubes"] = f"sum(({w} * {w}) * {w})"
    for name, value in zip(sums, columns, strict=True):
        u = f"({w} * {value})" if weighted else value
        found[f"sum:{name}"] = f"sum({u})"
        found[f"square:{name}"] = f"sum({u} * {u})"
        found[f"cube:{name}"] = f"sum(({u} * {u}) * {u})"
        if weighted:
            found[f"cross:{name}"] = f"sum({w} * {u})"
    return found


def choose_counting(requested: CountingRequest, *, rows: int, sample: np.ndarray) -> Literal["exact", "binned"]:
    """The mode ``requested`` means for ``rows`` rows whose sampled scores are ``sample`` (at most EDGE_SAMPLE
    of them, every score when there are no more): "auto" bins when the sample holds more than 100,000 distinct
    scores (the numpy builder's rule)."""
    auto = requested == "auto" and rows > AUTO_BINNED_ABOVE
    return choose_mode(requested, len(np.unique(np.asarray(sample, dtype=np.float64))) if auto else 0)


def edges_from_samples(sample: np.ndarray, positives: np.ndarray, *, bins: int, low: float, high: float,
                       at: Sequence[float] = ()) -> np.ndarray:
    """The bin edges of binned counting: :func:`metricbridge.loading.builders.bin_edges` on ``sample`` (at most
    EDGE_SAMPLE scores, every score when there are no more) and ``positives`` (at most EDGE_SAMPLE positives'
    scores, every one when there are no more), from ``low`` (the lowest score, ``edges[0]``) up to ``high`` (the
    highest), with each of ``at`` (thresholds whose figures must be exact) an edge. Increasing float64."""
    return bin_edges(np.asarray(sample, dtype=np.float64), bins, low=low, high=high,
                     positives=np.asarray(positives, dtype=np.float64), at=at)


def _empty(keys: Sequence[str], sums: Sequence[str], weighted: bool) -> ScoreCounts:
    """What the numpy builder returns for no rows."""
    empty = np.zeros(0)
    return ScoreCounts(scores=empty, labels=empty, rows=empty, weights=empty, score_min=np.nan, score_max=np.nan,
                       keys={k: empty for k in keys}, sums={k: empty for k in sums},
                       squares={k: empty for k in sums}, cubes={k: empty for k in sums},
                       crosses={k: empty for k in sums if weighted},
                       weight_squares=empty if weighted else None, weight_cubes=empty if weighted else None)


def counts_from_groups(groups: Mapping[str, np.ndarray], *, mode: Literal["exact", "binned"], bins: int | None,
                       score_min: float, score_max: float, keys: Sequence[str] = (), sums: Sequence[str] = (),
                       weighted: bool) -> ScoreCounts:
    """ScoreCounts from the groups of an engine's aggregation (the columns of the module docstring).

    ``score_min``/``score_max`` are the lowest and highest raw score counted; ``bins`` the bin count asked for
    (binned mode). Cells are ordered by score, then label (negatives first), then each key in turn by its sorted
    values (a missing value last), as the numpy builder orders them; groups of the same cell are added up.
    Raises ValueError for a missing column or columns of different lengths (an engine's bug, not the user's).
    """
    if mode not in ("exact", "binned"):
        raise ValueError(f"mode must be 'exact' or 'binned', not {mode!r}")
    if mode == "binned" and bins is None:
        raise ValueError("binned counts need the number of bins asked for")
    figures = ["rows", *(_RAW if mode == "binned" else ()), *(("weights", *_MOMENTS) if weighted else ())]
    for name in sums:
        figures += [f"sum:{name}", f"square:{name}", f"cube:{name}", *((f"cross:{name}",) if weighted else ())]
    key_columns = {name: f"key:{name}" if f"key:{name}" in groups else name for name in keys}
    clashes = [name for name, column in key_columns.items() if column == name and name in (*GROUP_COLUMNS, *figures)]
    if clashes:
        raise ValueError(f"key {clashes[0]!r} has the name of another group column: name it 'key:{clashes[0]}'")
    needed = [*GROUP_COLUMNS, *key_columns.values(), *figures]
    absent = [name for name in needed if name not in groups]
    if absent:
        raise ValueError(f"the groups have no column {', '.join(map(repr, absent))}")
    columns = {name: np.asarray(groups[name]) for name in needed}
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"the group columns differ in length: {sorted(lengths)}")
    if not len(columns["score"]):
        return _empty(keys, sums, weighted)
    scores = columns["score"].astype(np.float64, copy=False)
    labels = columns["label"].astype(np.int8)
    if labels.min() < 0 or labels.max() > 1:
        raise ValueError("group labels must be 0 or 1")
    score_values, inverse = np.unique(scores, return_inverse=True)
    score_codes = inverse.reshape(-1)
    coded = [key_codes(columns[key_columns[name]]) for name in keys]
    # one sort by (score, label, *keys): lexsort's last key is the first
    order = np.lexsort([*(codes for codes, _ in reversed(coded)), labels, score_codes])
    sorted_codes: list[np.ndarray] = [score_codes[order], labels[order], *(codes[order] for codes, _ in coded)]
    same = np.ones(len(order) - 1, dtype=bool)  # whether a group is of the cell of the group before it
    for column in sorted_codes:
        same &= column[1:] == column[:-1]
    first = np.flatnonzero(np.r_[True, ~same])  # where each cell starts

    def added(values: np.ndarray) -> np.ndarray:
        ordered = values[order]
        return ordered if len(first) == len(ordered) else np.add.reduceat(ordered, first)

    totals = {name: added(columns[name].astype(np.int64 if name == "rows" else np.float64)) for name in figures}
    at = order[first]
    return ScoreCounts(
        scores=score_values[score_codes[at]], labels=labels[at], rows=totals["rows"],
        weights=totals["weights"] if weighted else totals["rows"].astype(np.float64),
        score_sums=totals.get("score_sums"), brier_sums=totals.get("brier_sums"),
        log_loss_sums=totals.get("log_loss_sums"), score_min=float(score_min), score_max=float(score_max),
        mode=mode, bins=bins if mode == "binned" else None,
        keys={name: uniques[codes[at]] for name, (codes, uniques) in zip(keys, coded, strict=True)},
        sums={name: totals[f"sum:{name}"] for name in sums},
        squares={name: totals[f"square:{name}"] for name in sums},
        cubes={name: totals[f"cube:{name}"] for name in sums},
        crosses={name: totals[f"cross:{name}"] for name in sums if weighted},
        weight_squares=totals.get("weight_squares"), weight_cubes=totals.get("weight_cubes"))


def groups_of(counts: ScoreCounts) -> dict[str, np.ndarray]:
    """A ScoreCounts as groups of :func:`counts_from_groups` (keys as "key:NAME"), to add other groups to it:
    ``counts_from_groups`` of two counts' groups concatenated is their merge (binned: on the same edges)."""
    groups = {"score": counts.scores, "label": counts.labels, "rows": counts.rows, "weights": counts.weights}
    groups |= {f"key:{name}": values for name, values in counts.keys.items()}
    for name in ("score_sums", "brier_sums", "log_loss_sums", "weight_squares", "weight_cubes"):
        if getattr(counts, name) is not None:
            groups[name] = getattr(counts, name)
    for prefix, mapping in (("sum", counts.sums), ("square", counts.squares), ("cube", counts.cubes),
                            ("cross", counts.crosses)):
        groups |= {f"{prefix}:{name}": values for name, values in mapping.items()}
    return groups
