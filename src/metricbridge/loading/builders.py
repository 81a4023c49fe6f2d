"""Builders of ScoreCounts: from numpy arrays, and from a DuckDB table.

Both produce identical cells for the same data, by construction: the table builder fetches the columns it
needs once (Arrow batches copied into preallocated arrays) and counts them with the array builder. Exact
mode keys cells by the distinct score (a sort); binned mode keys them by the lower edge of a score bin whose
edges follow the score distribution, and finds each score's bin in O(1) (:class:`BinLookup`), chunk by
cache-sized chunk (on two threads when a second core is idle), so binned counting is O(n) with no sort of
the rows. The builders add the per-cell sums that Brier score, log loss and the calibration table need, from
raw scores in the same pass.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from metricbridge.counts import (
    LOG_LOSS_EPS,
    ProgressCallback,
    ScoreCounts,
    distinct_codes,
    log_loss_terms,
    scaled_progress,
    value_codes,
)
from metricbridge.errors import InputError
from metricbridge.limits import LIMITS

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "AUTO_BINNED_ABOVE", "DEFAULT_BINS", "BinLookup", "CountingRequest", "Progress", "bin_edges", "choose_mode",
    "counts_from_arrays", "counts_from_table", "edges_for", "key_codes", "quote", "scaled",
]

DEFAULT_BINS = 10_000
AUTO_BINNED_ABOVE = 100_000  # distinct scores above which "auto" switches to binned mode
EDGE_SAMPLE = 200_000  # scores sampled to place bin edges
_CHUNK = 1 << 14  # rows per step of the bin lookup: its tables and temporaries stay in one core's cache
_THREADED_CHUNK = 1 << 17  # ... on two threads: fewer, longer numpy calls, so fewer hand-overs of the GIL
_BATCH = 1 << 18  # rows per bincount of the binned pass (a bincount costs a cell-sized array)
_TWO_HALVES_FROM = 1 << 20  # rows from which the binned pass runs as two halves, one per thread
_DENSE_CELLS = 1 << 21  # most (bin, label, key) cells counted in one dense array; beyond, cells are sorted
_FETCH_BATCH = 1 << 20  # rows per Arrow batch fetched from DuckDB
_MAX_GRID = 1 << 21  # most grid cells of a BinLookup (its tables: 16 bytes a cell)
_CROWDED = -(1 << 40)  # the bin a BinLookup table gives a cell of several edges
_REPORT_EVERY = 1  # batches between two progress reports

CountingRequest = Literal["auto", "exact", "binned"]
Progress = ProgressCallback  # the loading layer's name for the one progress callback type (counts.py)
scaled = scaled_progress


def quote(identifier: str) -> str:
    """A SQL identifier, double-quoted with inner quotes doubled: column names are data."""
    return '"' + identifier.replace('"', '""') + '"'


def choose_mode(requested: CountingRequest, distinct_scores: int) -> Literal["exact", "binned"]:
    if requested == "auto":
        return "binned" if distinct_scores > AUTO_BINNED_ABOVE else "exact"
    return requested


def bin_edges(sample: np.ndarray, bins: int, *, low: float, high: float,
              positives: np.ndarray | None = None, at: Sequence[float] = ()) -> np.ndarray:
    """Increasing bin edges that follow the distribution of ``sample``; ``edges[0] == low``.

    The edges are quantiles, so each bin holds about the same share of items. With ``positives`` (a sample of
    the positives' scores) they are quantiles of an even mixture of the two samples, so half the bins follow the
    positives: with rare positives, quantiles of all scores lump many positives with the negatives around them,
    while average precision is decided by where each positive ranks. When the positives are fewer than half the
    bins, each positive's score is an edge, and a threshold there flags exactly what an exact threshold flags.
    When every score is a probability, the reliability-bin edges k/10 and the next double above each are
    added, so a cell holds either scores at most k/10 or scores above it: a calibration bin of scikit-learn's,
    (k/10, (k+1)/10], never straddles a cell, and a threshold at k/10 is still exact. Each of ``at`` (thresholds
    a user asked for) within the scores' range is an edge too, so the figures at it are exact.
    """
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    if positives is None or not len(positives):
        quantiles = np.quantile(sample, levels, method="inverted_cdf")
    else:  # inverted-CDF quantiles of the mixture: each sample weighs half (integer weights: exact sums)
        values = np.concatenate([sample, positives])
        weights = np.concatenate([np.full(len(sample), len(positives), dtype=np.int64),
                                  np.full(len(positives), len(sample), dtype=np.int64)])
        order = np.argsort(values, kind="stable")
        cumulative = np.cumsum(weights[order])
        level_at = np.searchsorted(cumulative, levels * float(cumulative[-1]), side="left")
        quantiles = values[order[np.minimum(level_at, len(values) - 1)]]
    asked = np.asarray(at, dtype=np.float64)
    parts = [np.array([low]), quantiles, asked[np.isfinite(asked) & (asked > low) & (asked <= high)]]
    if 0.0 <= low and high <= 1.0:
        tenths = np.linspace(0.0, 1.0, 11)  # the values scikit-learn's calibration_curve uses
        parts += [tenths, np.nextafter(tenths[1:-1], 2.0)]
    edges = np.unique(np.concatenate(parts))
    return edges[edges >= low]


def edges_for(y: np.ndarray, s: np.ndarray, bins: int, at: Sequence[float] = ()) -> np.ndarray:
    """The bin edges binned counting uses for labels ``y`` (0/1) and scores ``s``: from a fixed-seed sample of
    the scores and one of the positives' scores, and at the thresholds ``at`` (:func:`bin_edges`)."""
    return bin_edges(_sample(s), bins, low=float(s.min()), high=float(s.max()), positives=_positive_sample(y, s),
                     at=at)


class BinLookup:
    """The bin of each score, exactly ``np.searchsorted(edges, scores, side="right") - 1``, in O(1) a score.

    ``edges`` are increasing: a score below ``edges[0]`` gets -1, one at or above ``edges[-1]`` the last
    bin. Scores must not be NaN.

    An equal-width grid over [edges[1], edges[-1]] (``edges[0]`` is the lowest score, perhaps far out) maps a
    score x to a grid cell ``trunc(clip((x - edges[1]) * scale + 1, 0, cells + 1))``. Every step (a correctly
    rounded difference, product and sum, a clip, a truncation) keeps the order of two scores, so every edge in
    an earlier cell is below x and every edge in a later cell above it, whatever the rounding: only the edges
    in x's own cell need comparing. A cell holding at most one edge takes one comparison with it; the scores in
    the rare cells holding several take an exact binary search. The grid is refined until such cells hold at
    most 1% of the edges (about 1% of the scores, the edges being quantiles), or until refining no longer
    separates them (an edge and the next double above it, as binned counting places at k/10, share a cell in
    any grid). Edges the grid cannot resolve (fewer than three, or a range that overflows) fall back to the
    binary search for every score.
    """

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self._below: np.ndarray | None = None  # per grid cell: the bin of a score below the cell's edges
        self._next = np.zeros(0)  # per grid cell: its first edge (+inf when no edge is left)
        self._crowded = False  # whether some grid cell holds several edges
        self._low = self._scale = self._top = 0.0
        n = len(self.edges)
        if n < 3 or not np.all(np.isfinite(self.edges)) or not np.all(self.edges[1:] > self.edges[:-1]):
            return
        low, high = float(self.edges[1]), float(self.edges[-1])
        cells = min(max(4 * n, 1024), _MAX_GRID)
        before = n + 1
        while True:
            with np.errstate(over="ignore"):
                scale = cells / (high - low)
            if not (np.isfinite(scale) and scale > 0):
                return
            self._low, self._scale, self._top = low, scale, float(cells + 1)
            at = self._cells(self.edges, np.empty(n), np.empty(n, dtype=np.intp))  # non-decreasing
            per_cell = np.bincount(at, minlength=cells + 2)
            crowded = per_cell > 1
            in_crowded = int(per_cell[crowded].sum())
            if in_crowded <= n // 100 or in_crowded > 0.9 * before or cells >= _MAX_GRID:
                break
            before = in_crowded
            cells = min(cells * 4, _MAX_GRID)
        first = np.searchsorted(at, np.arange(cells + 2), side="left")  # edges in earlier cells
        self._below = first - 1
        self._next = np.r_[self.edges, np.inf][first]
        # a cell of several edges gets a bin far below -1, which marks its scores for the binary search
        self._crowded = bool(crowded.any())
        self._below[crowded] = _CROWDED

    def _cells(self, scores: np.ndarray, work: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """The grid cell of each score (a monotone function of the score), through the buffers given."""
        with np.errstate(over="ignore", invalid="ignore"):
            np.subtract(scores, self._low, out=work)
            work *= self._scale
            work += 1.0
        np.clip(work, 0.0, self._top, out=work)
        np.copyto(cells, work, casting="unsafe")  # truncation: the values are >= 0
        return cells

    def into(self, scores: np.ndarray, out: np.ndarray, work: np.ndarray, cells: np.ndarray,
             above: np.ndarray) -> np.ndarray:
        """Write the bins of ``scores`` into ``out`` (intp), using buffers of the same length as scratch."""
        if self._below is None:
            found = np.searchsorted(self.edges, scores, side="right")
            np.subtract(found, 1, out=out)
            return out
        self._cells(scores, work, cells)
        np.take(self._below, cells, out=out, mode="clip")  # "clip": no bounds check (cells are in range)
        np.take(self._next, cells, out=work, mode="clip")
        np.greater_equal(scores, work, out=above)
        out += above
        if self._crowded and len(out) and out.min() < -1:
            crowded = np.flatnonzero(out < -1)
            out[crowded] = np.searchsorted(self.edges, scores[crowded], side="right") - 1
        return out

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """The bin of each score (intp)."""
        scores = np.asarray(scores, dtype=np.float64)
        out = np.empty(len(scores), dtype=np.intp)
        size = min(len(scores), _CHUNK)
        work, cells, above = np.empty(size), np.empty(size, dtype=np.intp), np.empty(size, dtype=bool)
        for start in range(0, len(scores), _CHUNK):
            part = slice(start, start + _CHUNK)
            length = len(out[part])
            self.into(scores[part], out[part], work[:length], cells[:length], above[:length])
        return out


def _cell_sums(cell_ids: np.ndarray, n_cells: int, y: np.ndarray, s: np.ndarray, w: np.ndarray | None,
               sums: Mapping[str, np.ndarray], *, raw_score_sums: bool) -> dict[str, np.ndarray]:
    """Per-cell row counts and weighted sums, given every row's cell id (the sorted paths).

    One pass per figure over all rows: with many cells (exact mode) that is cheaper than re-adding
    cell-sized arrays per chunk. ``raw_score_sums`` adds the sums that need each row's own score.
    """
    def weighted(values: np.ndarray) -> np.ndarray:
        return values if w is None else w * values

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell_ids, weights=values, minlength=n_cells)

    totals: dict[str, np.ndarray] = {"rows": np.bincount(cell_ids, minlength=n_cells).astype(np.float64)}
    if raw_score_sums:
        totals["score_sums"] = total(weighted(s))
        totals["brier_sums"] = total(weighted((y - s) ** 2))
        totals["log_loss_sums"] = total(weighted(log_loss_terms(y, s)))
    totals |= _spread_totals(w, sums, total)
    return totals  # "rows" as float64 counts; without weights there is no "weights" entry (it equals rows)


def _spread_totals(w: np.ndarray | None, sums: Mapping[str, np.ndarray],
                   total: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    """Per cell, by ``total``: the weights and each value column's weighted sums, with the sums of their
    squares and cubes (and of weight x weighted value) that the bootstrap resamples a cell's totals with."""
    totals: dict[str, np.ndarray] = {}
    if w is not None:
        square = w * w
        totals |= {"weights": total(w), "weight_squares": total(square), "weight_cubes": total(square * w)}
    for name, values in sums.items():
        u = values if w is None else w * values
        square = u * u
        totals |= {f"sum:{name}": total(u), f"square:{name}": total(square), f"cube:{name}": total(square * u)}
        if w is not None:
            totals[f"cross:{name}"] = total(w * u)
    return totals


_key_codes = key_codes = value_codes  # key_codes: for the engines' builders (metricbridge.sources), keyed alike


def _group_codes(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Dense cell id per row over several code columns, and each column's value per cell (a sort)."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        code = code * (int(column.max()) + 1 if len(column) else 1) + column
    unique_codes, cell_ids = distinct_codes(code)
    per_cell, rest = [], unique_codes
    for column in reversed(columns):
        radix = int(column.max()) + 1 if len(column) else 1
        per_cell.append(rest % radix)
        rest = rest // radix
    return cell_ids.reshape(-1), per_cell[::-1]


def _sample(scores: np.ndarray) -> np.ndarray:
    if len(scores) <= EDGE_SAMPLE:
        return scores
    return np.random.default_rng(0).choice(scores, EDGE_SAMPLE, replace=False)


def _positive_sample(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The positives' scores, or an evenly spaced sample of about EDGE_SAMPLE of them (in row order: no random
    draw, and a fraction of the cost of gathering every positive's score first)."""
    where = np.flatnonzero(y.view(bool) if y.dtype == np.int8 else y == 1)
    step = -(-len(where) // EDGE_SAMPLE)  # ceiling division: at most EDGE_SAMPLE positives
    return s[where[::step] if step > 1 else where]


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


def _runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and how often each occurs."""
    if not len(ordered):
        return ordered, np.zeros(0, dtype=np.int64)
    starts = np.empty(len(ordered), dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    del starts
    counts = np.empty(len(first), dtype=np.int64)
    np.subtract(first[1:], first[:-1], out=counts[:-1])
    counts[-1] = len(ordered) - first[-1]
    return ordered[first], counts


@dataclass(frozen=True, slots=True)
class _Cells:
    """Counted cells before they become a ScoreCounts: scores, labels, keys and the per-cell figures."""

    scores: np.ndarray
    labels: np.ndarray
    keys: dict[str, np.ndarray]
    figures: dict[str, np.ndarray]  # "rows", and "weights", raw-score sums and "sum:NAME" where counted


def _exact_unweighted(y: np.ndarray, s: np.ndarray, report: Progress | None, what: str) -> _Cells:
    """Exact cells without weights, keys or value sums: the positives' and negatives' scores sorted apart
    (numpy's vectorised sort, several times quicker than the argsort a payload would need), then merged."""
    is_positive = y.view(bool)
    positives, positive_rows = _runs(np.sort(s[is_positive]))
    if report:
        report(0.2, what)
    negatives, negative_rows = _runs(np.sort(s[~is_positive]))
    if report:
        report(0.9, what)
    # each cell's place among all cells ordered by (score, label), a negative before a positive of its score:
    # one binary search of the smaller class's scores into the larger's, the larger's places then by counting
    if len(positives) <= len(negatives):
        negatives_up_to = np.searchsorted(negatives, positives, side="right")  # per positive: negatives <= it
        at_positive = negatives_up_to + np.arange(len(positives))
        # positives below a negative: those with at most its index of negatives at or below them
        at_negative = np.cumsum(np.bincount(negatives_up_to, minlength=len(negatives) + 1)[:len(negatives)])
        at_negative += np.arange(len(negatives))
    else:
        positives_below = np.searchsorted(positives, negatives, side="left")  # per negative: positives < it
        at_negative = positives_below + np.arange(len(negatives))
        at_positive = np.cumsum(np.bincount(positives_below, minlength=len(positives) + 1)[:len(positives)])
        at_positive += np.arange(len(positives))
    n_cells = len(positives) + len(negatives)
    scores, labels, rows = np.empty(n_cells), np.zeros(n_cells, dtype=np.int8), np.empty(n_cells, dtype=np.int64)
    scores[at_negative], scores[at_positive] = negatives, positives
    rows[at_negative], rows[at_positive] = negative_rows, positive_rows
    labels[at_positive] = 1
    return _Cells(scores=scores, labels=labels, keys={}, figures={"rows": rows})


def _sparse_cells(score_codes: np.ndarray, cell_scores: np.ndarray, y: np.ndarray, s: np.ndarray,
                  w: np.ndarray | None, keys: Mapping[str, np.ndarray], sums: Mapping[str, np.ndarray], *,
                  raw_score_sums: bool) -> _Cells:
    """Cells from every row's score code: one dense code (score x 2 + label) without keys, else a sort."""
    coded = [_key_codes(values) for values in keys.values()]
    if coded:
        cell_ids, per_cell = _group_codes([score_codes, y.astype(np.int64), *(codes for codes, _ in coded)])
        n_cells = len(per_cell[0])
    else:
        cell_ids = score_codes * 2
        cell_ids += y
        n_cells = 2 * len(cell_scores)
    del score_codes
    totals = _cell_sums(cell_ids, n_cells, y, s, w, sums, raw_score_sums=raw_score_sums)
    del cell_ids
    kept = np.flatnonzero(totals["rows"])
    figures = {name: values[kept] for name, values in totals.items()}
    del totals  # the full arrays are 2 x distinct scores long: free them before anything else is made
    if coded:
        score_index, labels = per_cell[0][kept], per_cell[1][kept].astype(np.int8)
        key_cells = {name: uniques[codes[kept]] for name, (_, uniques), codes in
                     zip(keys, coded, per_cell[2:], strict=True)}
    else:  # cell id = score index x 2 + label: the label is its parity, the score index the rest
        labels, key_cells = kept.astype(np.int8, casting="unsafe") & 1, {}
        score_index = np.right_shift(kept, 1, out=kept)
    return _Cells(scores=cell_scores[score_index], labels=labels, keys=key_cells, figures=figures)


@dataclass(frozen=True, slots=True)
class _BinnedPass:
    """What one pass of binned counting reads: the rows, the bin lookup, and the key codes folded into
    each cell id (cell = (bin x 2 + label) x ``radix`` + ``key_code``)."""

    y: np.ndarray
    s: np.ndarray
    w: np.ndarray | None
    sums: Mapping[str, np.ndarray]
    lookup: BinLookup
    key_code: np.ndarray | None
    radix: int
    n_cells: int

    def count(self, rows: slice, report: Progress | None, what: str, chunk: int = _CHUNK) -> dict[str, np.ndarray]:
        """Row counts and weighted sums per cell over ``rows``.

        Two levels: per chunk of rows (small enough for the lookup tables and the temporaries to stay in the
        core's cache) the cell ids and per-row terms go into batch-sized buffers; per batch, one bincount a
        figure adds them up (a bincount costs a cell-sized array, so it is paid per batch, not per chunk). The
        sums depend on the batches only, so the chunk size is free to suit one thread or two.
        """
        y, s, w, n_cells = self.y, self.s, self.w, self.n_cells
        totals = {name: np.zeros(n_cells) for name in ("rows", "score_sums", "brier_sums", "log_of_p")}
        batch_size, chunk_size = min(_BATCH, rows.stop - rows.start), min(chunk, _BATCH, rows.stop - rows.start)
        ids, brier, log_p = np.empty(batch_size, dtype=np.intp), np.empty(batch_size), np.empty(batch_size)
        weighted = np.empty(batch_size) if w is not None else None
        work, cells, above = np.empty(chunk_size), np.empty(chunk_size, dtype=np.intp), np.empty(chunk_size, bool)
        p = np.empty(chunk_size)
        batches = range(rows.start, rows.stop, _BATCH)
        for number, first in enumerate(batches):
            if report and number % _REPORT_EVERY == 0:
                report(number / len(batches), what)
            batch = slice(first, min(first + _BATCH, rows.stop))
            for start in range(batch.start, batch.stop, chunk_size):
                stop = min(start + chunk_size, batch.stop)
                length, at = stop - start, slice(start - batch.start, stop - batch.start)
                x, label = s[start:stop], y[start:stop]
                chunk_ids = self.lookup.into(x, ids[at], work[:length], cells[:length], above[:length])
                chunk_ids *= 2
                chunk_ids += label
                if self.key_code is not None:
                    chunk_ids *= self.radix
                    chunk_ids += self.key_code[start:stop]
                np.subtract(x, label, out=work[:length])
                np.multiply(work[:length], work[:length], out=brier[at])
                # log of the probability of the true class, clipped as scikit-learn clips it (negated at the end)
                clipped = np.clip(x, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS, out=work[:length])
                np.subtract(1.0, clipped, out=p[:length])
                np.copyto(p[:length], clipped, where=label.view(bool))
                np.log(p[:length], out=log_p[at])
            length = batch.stop - batch.start
            batch_ids, weight = ids[:length], None if w is None else w[batch]
            figures = {"score_sums": s[batch], "brier_sums": brier[:length], "log_of_p": log_p[:length]}
            totals["rows"] += np.bincount(batch_ids, minlength=n_cells)
            for name, values in figures.items():
                if weight is not None and weighted is not None:
                    values = np.multiply(values, weight, out=weighted[:length])
                totals[name] += np.bincount(batch_ids, weights=values, minlength=n_cells)
            spreads = _spread_totals(weight, {name: values[batch] for name, values in self.sums.items()},
                                     functools.partial(_bincount, batch_ids, n_cells))
            for name, values in spreads.items():
                if name in totals:
                    totals[name] += values
                else:
                    totals[name] = values
        return totals


def _bincount(ids: np.ndarray, n_cells: int, values: np.ndarray) -> np.ndarray:
    return np.bincount(ids, weights=values, minlength=n_cells)


def _threads() -> int:
    """Threads for the binned pass: two when a second core is idle. On a busy machine two threads only share
    one core and each other's cache (measured slower), so the recent load decides; the cells are the same."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return 2 if cores >= 2 and busy <= cores - 1 else 1


def _binned_cells(y: np.ndarray, s: np.ndarray, w: np.ndarray | None, keys: Mapping[str, np.ndarray],
                  sums: Mapping[str, np.ndarray], edges: np.ndarray, report: Progress | None,
                  what: str) -> _Cells:
    """Binned cells in one O(n) pass: the bin of every score from the lookup, counted per chunk.

    From a million rows the pass runs as two halves, on two threads when a second core is idle (numpy releases
    the GIL in every step); the halves and their chunks are the same whatever the machine and the threads, so
    are the sums.
    """
    lookup = BinLookup(edges)
    coded = [_key_codes(values) for values in keys.values()]
    radix = int(np.prod([len(uniques) for _, uniques in coded])) if coded else 1
    n_cells = 2 * len(edges) * radix
    if n_cells > _DENSE_CELLS:  # a key of many values: cells are sorted out, as in exact mode
        return _sparse_cells(lookup(s), edges, y, s, w, keys, sums, raw_score_sums=True)
    key_code = None
    for codes, uniques in coded:
        key_code = codes.astype(np.intp) if key_code is None else key_code * len(uniques) + codes
    counting = _BinnedPass(y=y, s=s, w=w, sums=sums, lookup=lookup, key_code=key_code, radix=radix,
                           n_cells=n_cells)
    n = len(s)
    if n < _TWO_HALVES_FROM:
        totals = counting.count(slice(0, n), report, what)
    else:
        middle = (n // 2) // _BATCH * _BATCH
        if _threads() > 1:
            with ThreadPoolExecutor(max_workers=1) as pool:
                other = pool.submit(counting.count, slice(middle, n), None, what, _THREADED_CHUNK)
                first = counting.count(slice(0, middle), report, what, _THREADED_CHUNK)  # this one reports
                second = other.result()
        else:
            first = counting.count(slice(0, middle), scaled(report, 0.0, 0.5), what)
            second = counting.count(slice(middle, n), scaled(report, 0.5, 1.0), what)
        totals = {name: values + second[name] for name, values in first.items()}
    totals["log_loss_sums"] = np.negative(totals.pop("log_of_p"))
    kept = np.flatnonzero(totals["rows"])
    figures = {name: values[kept] for name, values in totals.items()}
    cell_keys, rest = kept % radix, kept // radix
    labels, bins = (rest & 1).astype(np.int8), rest >> 1
    key_cells = {}
    for name, (_, uniques) in reversed(list(zip(keys, coded, strict=True))):
        key_cells[name] = uniques[cell_keys % len(uniques)]
        cell_keys = cell_keys // len(uniques)
    return _Cells(scores=edges[bins], labels=labels, keys={name: key_cells[name] for name in keys},
                  figures=figures)


def _count(y: np.ndarray, s: np.ndarray, w: np.ndarray | None, keys: Mapping[str, np.ndarray],
           sums: Mapping[str, np.ndarray], mode: CountingRequest, bins: int, report: Progress | None,
           what: str, at: Sequence[float] = ()) -> ScoreCounts:
    """Count validated arrays (labels int8 0/1, finite float64 scores, one length)."""
    if report:
        report(0.0, what)
    sample = _sample(s) if mode != "exact" else s
    # a sample of 200,000 with more than 100,000 distinct scores proves it, at the cost of a small sort
    chosen = choose_mode(mode, len(np.unique(sample)) if mode == "auto" and len(s) > AUTO_BINNED_ABOVE else 0)
    low, high = float(s.min()), float(s.max())
    if chosen == "binned":
        edges = bin_edges(sample, bins, low=low, high=high, positives=_positive_sample(y, s), at=at)
        cells = _binned_cells(y, s, w, keys, sums, edges, report, what)
    elif w is None and not keys and not sums:
        cells = _exact_unweighted(y, s, report, what)
    else:
        score_codes, distinct = _distinct_codes(s)
        cells = _sparse_cells(score_codes, distinct, y, s, w, keys, sums, raw_score_sums=False)
    if report:
        report(1.0, what)
    figures = cells.figures
    rows = figures["rows"].astype(np.int64)  # cast only the kept cells: the full arrays were cell-sized
    return ScoreCounts(
        scores=cells.scores, labels=cells.labels, rows=rows, weights=figures.get("weights", figures["rows"]),
        # exact cells leave the raw-score sums to be derived from their one score (less memory)
        score_sums=figures.get("score_sums"), brier_sums=figures.get("brier_sums"),
        log_loss_sums=figures.get("log_loss_sums"), score_min=low, score_max=high, mode=chosen,
        bins=bins if chosen == "binned" else None, keys=cells.keys,
        sums={name: figures[f"sum:{name}"] for name in sums},
        squares={name: figures[f"square:{name}"] for name in sums},
        cubes={name: figures[f"cube:{name}"] for name in sums},
        crosses={name: figures[f"cross:{name}"] for name in sums if w is not None},
        weight_squares=figures.get("weight_squares"), weight_cubes=figures.get("weight_cubes"),
    )


def _where(flags: np.ndarray) -> str:
    """"index 3" or "indexes 3, 8, 9 and 12 more": where a check failed."""
    found = np.flatnonzero(flags)
    shown = ", ".join(str(i) for i in found[:3])
    more = f" and {len(found) - 3:,} more" if len(found) > 3 else ""
    return f"index{'es' if len(found) > 1 else ''} {shown}{more}"


def _one_dimensional(name: str, values: object, dtype: type | None = None) -> np.ndarray:
    try:
        array = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise InputError(f"{name} must hold numbers: {error}.") from error
    if array.ndim != 1:
        hint = " (for predict_proba's output, pass the positive class's column, proba[:, 1])" if array.ndim == 2 else ""
        raise InputError(f"{name} must be one-dimensional, one value per item, not of shape {array.shape}{hint}.")
    return array


def _labels(y_true: object) -> np.ndarray:
    """0/1 labels as int8; InputError for anything else (a 2, a fraction, -1/1, text, missing values)."""
    y = _one_dimensional("y_true", y_true)
    if y.dtype == bool:
        return y.view(np.int8)
    if y.dtype.kind not in "biuf":
        shown = ", ".join(repr(value) for value in list(dict.fromkeys(y[:1000].tolist()))[:3])
        raise InputError(f"y_true must hold 0/1 labels (or True/False), not {y.dtype} values ({shown}): mark the "
                         "positive class with 1, for example y_true == 'fraud'.")
    if y.dtype.kind in "iu" and len(y) and 0 <= int(y.min()) and int(y.max()) <= 1:
        return y.astype(np.int8, copy=False)
    other = ~((y == 0) | (y == 1))
    if other.any():
        values = ", ".join(repr(value) for value in list(dict.fromkeys(y[other][:1000].tolist()))[:3])
        hint = " (labels of -1 and 1: pass y_true == 1)" if y.dtype.kind in "if" and (y[other] == -1).all() else ""
        raise InputError(f"y_true must hold 0/1 labels (or True/False), but holds {values} at {_where(other)}{hint}. "
                         "Mark the positive class with 1 and every other item with 0.")
    return y.astype(np.int8)


def _validated(y_true: object, y_score: object, sample_weight: object | None, keys: Mapping[str, object],
               sums: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, np.ndarray],
                                                    dict[str, np.ndarray]]:
    """The arrays counting needs, or InputError saying which argument is wrong, where, and how to fix it.

    The checks cost a few passes of min/max over the arrays (labels from DuckDB are int8 already)."""
    y = _labels(y_true)
    s = _one_dimensional("y_score", y_score, np.float64)
    w = None if sample_weight is None else _one_dimensional("sample_weight", sample_weight, np.float64)
    key_arrays = {name: _one_dimensional(f"keys[{name!r}]", values) for name, values in keys.items()}
    sum_arrays = {name: _one_dimensional(f"sums[{name!r}]", values, np.float64) for name, values in sums.items()}
    lengths = {"y_true": len(y), "y_score": len(s)} | ({} if w is None else {"sample_weight": len(w)})
    lengths |= {f"keys[{name!r}]": len(v) for name, v in key_arrays.items()}
    lengths |= {f"sums[{name!r}]": len(v) for name, v in sum_arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} {length:,}" for name, length in lengths.items())
        raise InputError(f"the arrays have different lengths ({shown}): give one label, one score and one of each "
                         "other value per item.")
    if not len(s):
        return y, s, w, key_arrays, sum_arrays
    with np.errstate(invalid="ignore"):
        if not (math.isfinite(s.min()) and math.isfinite(s.max())):
            raise InputError(f"y_score must hold finite numbers, but holds NaN or infinite values at "
                             f"{_where(~np.isfinite(s))}: drop those items or fill their scores in.")
        if w is not None:
            low, high = float(w.min()), float(w.max())
            if not (low >= 0 and high <= LIMITS.weight):  # also False for NaN
                bad = ~((w >= 0) & (w <= LIMITS.weight))
                raise InputError(f"sample_weight must hold weights from 0 to {LIMITS.weight:g} (limits.weight), but "
                                 f"holds {', '.join(repr(float(v)) for v in w[bad][:3])} at {_where(bad)}: a weight "
                                 "says how many items one row stands for.")
        for name, values in sum_arrays.items():
            if not (abs(float(values.min())) <= LIMITS.amount and abs(float(values.max())) <= LIMITS.amount):
                bad = ~(np.abs(values) <= LIMITS.amount)
                raise InputError(f"sums[{name!r}] must hold finite amounts of at most {LIMITS.amount:g} in size "
                                 f"(limits.amount), but holds {', '.join(repr(float(v)) for v in values[bad][:3])} "
                                 f"at {_where(bad)}.")
    return y, s, w, key_arrays, sum_arrays


def counts_from_arrays(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    mode: CountingRequest = "auto",
    bins: int = DEFAULT_BINS,
    keys: Mapping[str, np.ndarray] | None = None,
    sums: Mapping[str, np.ndarray] | None = None,
    edges_at: Sequence[float] = (),
    progress: Progress | None = None,
) -> ScoreCounts:
    """Count 0/1 labels ``y_true`` against finite scores ``y_score`` (arrays of one length).

    ``keys`` are extra cell keys (e.g. a 0/1 status-quo decision); ``sums`` are value columns summed per
    cell (weighted). ``mode="auto"`` bins when distinct scores exceed 100,000; in binned mode each of
    ``edges_at`` (thresholds to report at) is a bin edge, so the figures there are exact. ``progress`` hears the
    fraction counted and "counting scores". Raises InputError (a ValueError) for labels other than 0/1 or
    True/False, NaN or infinite scores, weights that are negative, not finite or above ``limits.weight``, sums
    that are not finite or above ``limits.amount`` in size, and arrays of different lengths or shapes.
    """
    if mode not in ("auto", "exact", "binned"):
        raise InputError(f"mode must be 'auto', 'exact' or 'binned', not {mode!r}.")
    if not (isinstance(bins, int | np.integer) and 2 <= bins <= LIMITS.bins):
        raise InputError(f"bins must be a whole number from 2 to {LIMITS.bins:,} (limits.bins), not {bins!r}.")
    y, s, w, key_arrays, sum_arrays = _validated(y_true, y_score, sample_weight, keys or {}, sums or {})
    if len(s) == 0:
        empty = np.zeros(0)
        return ScoreCounts(scores=empty, labels=empty, rows=empty, weights=empty, score_min=np.nan, score_max=np.nan,
                           keys={k: empty for k in key_arrays}, sums={k: empty for k in sum_arrays},
                           squares={k: empty for k in sum_arrays}, cubes={k: empty for k in sum_arrays},
                           crosses={k: empty for k in sum_arrays if w is not None},
                           weight_squares=None if w is None else empty, weight_cubes=None if w is None else empty)
    return _count(y, s, w, key_arrays, sum_arrays, mode, int(bins), progress, "counting scores", edges_at)


_ARROW_NUMBERS: dict[str, np.dtype] = {name: np.dtype(name) for name in (
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")} | {
    "float": np.dtype(np.float32), "double": np.dtype(np.float64)}  # Arrow's names of the fixed-width numbers


def _numpy_of(array: Any) -> np.ndarray:
    """An Arrow array as numpy: a view of its buffer for numbers without missing values (pyarrow's own
    to_numpy imports pandas, a second of import on a path that needs none), else pyarrow's conversion."""
    dtype = _ARROW_NUMBERS.get(str(array.type))
    if dtype is not None and array.null_count == 0:
        return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)
    if str(array.type) in ("string", "large_string"):  # a key's text: one Python string per distinct value
        return _text_of(array)
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _text_of(array: Any) -> np.ndarray:
    """A text column as an object array whose rows share one Python string per distinct value (Arrow's
    dictionary encoding in C++), not one per row: a few distinct values over millions of rows convert ~10x
    quicker, and hash quickly (a string caches its hash) when the key is coded."""
    import pyarrow.compute as pc

    encoded = array.dictionary_encode()
    words = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)  # the last one: a missing value
    codes = pc.fill_null(encoded.indices, len(words) - 1)
    return words[np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.intp)]


def _fetch(con: duckdb.DuckDBPyConnection, query: str, params: Sequence[object], n_rows: int,
           report: Progress | None, what: str) -> list[np.ndarray]:
    """Every column of ``query`` as a numpy array, read in Arrow batches into arrays made once.

    Numeric columns without missing values are copied batch by batch into their array (the result and one
    batch in memory, never two copies of a column); others are joined at the end.
    """
    reader = con.sql(query, params=list(params) or None).to_arrow_reader(_FETCH_BATCH)
    columns: list[np.ndarray | None] = [None] * len(reader.schema)
    pieces: list[list[np.ndarray]] = [[] for _ in columns]
    done = 0
    for batch in reader:
        size = batch.num_rows
        for index in range(batch.num_columns):
            values = _numpy_of(batch.column(index))
            column = columns[index]
            if column is None and not pieces[index] and values.dtype.kind in "biuf":
                column = columns[index] = np.empty(n_rows, dtype=values.dtype)
            if column is not None and values.dtype == column.dtype and done + size <= n_rows:
                column[done:done + size] = values
            else:  # another type, or missing values in this batch: gather the pieces and join them
                if column is not None:
                    pieces[index].append(column[:done])
                    columns[index] = None
                pieces[index].append(values)
        done += size
        if report:
            report(done / max(n_rows, 1), what)
    arrays = []
    for column, parts in zip(columns, pieces, strict=True):
        if column is not None:
            arrays.append(column[:done])
        else:
            arrays.append(np.concatenate(parts) if parts else np.zeros(0))
    return arrays


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
    edges_at: Sequence[float] = (),
    progress: Progress | None = None,
) -> ScoreCounts:
    """Count one score column of a DuckDB table: its columns in use fetched once, counted in numpy.

    ``label_sql`` is a SQL expression giving 1 for positives and 0 for negatives; ``score_sql``, when given,
    replaces the score column (a 0/1 decision expression); ``params`` binds their ``?`` in that order
    (score, then label). ``where`` filters rows (e.g. dropped missing scores). ``keys`` are columns, or with
    ``key_sql`` expressions built by the loading layer (no user values inline), that split cells further.
    Identifiers are quoted here. ``progress`` hears "reading SCORE" (the first 30%), then "counting SCORE".
    """
    key_sql = key_sql or {}
    columns = [score_sql or f"CAST({quote(score)} AS DOUBLE)", f"CAST(({label_sql}) AS TINYINT)"]
    columns += [] if weight is None else [f"CAST({quote(weight)} AS DOUBLE)"]
    columns += [key_sql.get(key, quote(key)) for key in keys]
    columns += [f"CAST({quote(value)} AS DOUBLE)" for value in sums]
    source = f"FROM {quote(table)} WHERE {where}"
    query = "SELECT " + ", ".join(f"{sql} AS c{i}" for i, sql in enumerate(columns)) + f" {source}"
    if progress:
        progress(0.0, f"reading {score}")
    cursor = con.cursor()  # its own results: a result the caller left unread on ``con`` stays as it was
    try:
        n_rows = int(cursor.sql(f"SELECT count(*) {source}").fetchall()[0][0])
        fetched = _fetch(cursor, query, params, n_rows, scaled(progress, 0.0, 0.3), f"reading {score}")
    finally:
        cursor.close()
    s, y = fetched[0], fetched[1]
    w = None if weight is None else fetched[2]
    rest = fetched[2 if weight is None else 3:]
    return counts_from_arrays(
        y, s, sample_weight=w, mode=mode, bins=bins, keys=dict(zip(keys, rest[:len(keys)], strict=True)),
        sums=dict(zip(sums, rest[len(keys):], strict=True)), edges_at=edges_at,
        progress=_renamed(scaled(progress, 0.3, 1.0), f"counting {score}"))


def _renamed(progress: Progress | None, what: str) -> Progress | None:
    """The callback with every phrase replaced by ``what`` (the column's name instead of "scores")."""
    if progress is None:
        return None
    outer = progress

    def report(fraction: float, _: str) -> None:
        outer(fraction, what)
    return report
