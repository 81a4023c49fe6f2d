"""ScoreCounts: the one sufficient statistic of a model's scores against its labels.

Every figure downstream (curves, metrics, outcomes, bootstrap) is computed from a ScoreCounts, never from
raw rows again. It depends on nothing but numpy; the builders (numpy arrays, DuckDB files) live in
:mod:`metricbridge.loading`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # pandas only for to_frame/merge: counting and evaluating never need it
    import pandas as pd

__all__ = ["ScoreCounts", "CountingMode", "CELL_FIELDS", "RAW_SUMS", "LOG_LOSS_EPS", "flags", "log_loss_terms",
           "ProgressCallback", "scaled_progress", "value_codes", "distinct_codes"]

CountingMode = Literal["exact", "binned"]
ProgressCallback = Callable[[float, str], None]
"""What long work reports to: the fraction done (0 to 1) and a short phrase saying what ("counting score_gbm").
Reading, counting and the bootstrap take one; the app turns it into a progress bar."""


def scaled_progress(progress: ProgressCallback | None, start: float, end: float) -> ProgressCallback | None:
    """A callback reporting into the span [start, end] of ``progress`` (one step of a longer task)."""
    if progress is None:
        return None
    outer = progress

    def report(fraction: float, what: str) -> None:
        outer(start + (end - start) * min(max(fraction, 0.0), 1.0), what)

    return report

# scikit-learn's clip for float64 log loss: p is held within [eps, 1 - eps] so log(0) never happens.
LOG_LOSS_EPS = float(np.finfo(np.float64).eps)


def value_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes 0..k-1 of the values in the order of their sorted distinct values, and those values (what
    ``np.unique(values, return_inverse=True)`` gives, reversed, with no sort of every row where it can be
    helped): small integers and dates are coded by a count; text (an object array) is hashed by pandas,
    imported only then, and only its distinct values sorted (numbers before text when both occur), with a
    missing value (None, NaN) last as None."""
    if values.dtype.kind in "mM" and len(values) and not np.isnat(values).any():  # dates: days apart, as numbers
        codes, found = value_codes(values.view(np.int64))
        return codes, found.view(values.dtype)
    if values.dtype.kind in "biu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < 1 << 16:
            found, codes = distinct_codes(values.astype(np.intp) - low)
            return codes, (found + low).astype(values.dtype)
    if values.dtype == object:
        import pandas as pd

        try:
            codes, found = pd.factorize(values, sort=True)  # None and NaN coded -1
        except TypeError:  # values pandas cannot order either
            codes, found = pd.factorize(values)
        uniques = np.asarray(found, dtype=object)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(uniques), codes)
            uniques = np.array([*uniques, None], dtype=object)
        return codes.astype(np.intp), uniques
    uniques, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(-1), uniques


def distinct_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for non-negative integer codes: by a count when they span a
    range not much wider than their number (cells combined from a few keys), else by numpy's sort."""
    span = int(codes.max()) + 1 if len(codes) else 0
    if span > max(4 * len(codes), 1 << 20):
        unique, inverse = np.unique(codes, return_inverse=True)
        return unique, inverse.reshape(-1)
    present = np.bincount(codes, minlength=span) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[codes]


def flags(scores: np.ndarray | float, threshold: float) -> np.ndarray:
    """The threshold rule, the one place it is written: an item is flagged when ``score >= threshold``.

    The work list's SQL (``loading.predictions.FLAG_SQL``) states the same rule for DuckDB.
    """
    return np.asarray(scores) >= threshold


def log_loss_terms(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """-log of the probability each score gives its true label, clipped as scikit-learn clips it."""
    clipped = np.clip(scores, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return -np.log(np.where(labels == 1, clipped, 1 - clipped))

# Per-cell arrays, in the order `to_frame` shows them.
CELL_FIELDS = ("scores", "labels", "rows", "weights", "score_sums", "brier_sums", "log_loss_sums")
WEIGHT_MOMENTS = ("weight_squares", "weight_cubes")  # sums of weight^2 and weight^3, when weighted
RAW_SUMS = ("score_sums", "brier_sums", "log_loss_sums")  # need each row's own score: stored when binned


def _arrays(mapping: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """A private copy (a plain dict, so ScoreCounts pickles for caching)."""
    return {name: np.asarray(values) for name, values in (mapping or {}).items()}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ScoreCounts:
    """Counts of one model's items per cell, a cell being (score, label, *extra keys).

    Element ``i`` of every array describes cell ``i``:

    - ``scores``: the distinct score (exact mode) or the lowest score edge of the bin (binned mode); flagging
      with ``score >= scores[i]`` flags exactly the cells whose score is at least that, in both modes.
    - ``labels``: 1 for positives, 0 for negatives (int8).
    - ``rows``: how many data rows fall in the cell (int64).
    - ``weights``: the weighted count of items (equals ``rows`` without a weight column).
    - ``score_sums``: sum of weight x raw score, so mean scores survive binning.
    - ``brier_sums``: sum of weight x (label - raw score)^2.
    - ``log_loss_sums``: sum of weight x -log(p), p the raw score of the true class clipped to
      [eps, 1 - eps] as scikit-learn does; meaningful only when ``is_probability``.

      These three are stored in binned mode; in exact mode every row of a cell has the cell's score, so they
      may be left out (None) and :meth:`raw_sum` derives them, which keeps exact counts of ten million
      distinct scores at 25 bytes a cell.
    - ``keys[name]``: the value of an extra key column (a status-quo decision, a segment) in the cell.
    - ``sums[name]``: the sum of weight x a declared value column (an amount) over the cell's rows.
    - ``squares[name]``: the sum of (weight x value)^2 of a value column over the cell's rows, ``cubes[name]``
      the sum of its cubes, ``crosses[name]`` the sum of weight x (weight x value); ``weight_squares`` and
      ``weight_cubes`` the sums of weight^2 and weight^3. They say how much the rows of a cell differ (a skewed
      amount, weights of 1 to 10), which the bootstrap needs to resample a cell's totals honestly. Absent
      entries mean the rows of a cell are taken as alike (unweighted data needs no weight moments: every
      weight is 1).

    ``score_min``/``score_max`` are the raw score range, kept because binning hides the top of it.
    ``mode`` says how cells were formed and ``bins`` the bin count asked for in binned mode.
    """

    scores: np.ndarray
    labels: np.ndarray
    rows: np.ndarray
    weights: np.ndarray
    score_min: float
    score_max: float
    mode: CountingMode = "exact"
    bins: int | None = None
    score_sums: np.ndarray | None = None
    brier_sums: np.ndarray | None = None
    log_loss_sums: np.ndarray | None = None
    keys: Mapping[str, np.ndarray] = field(default_factory=dict)
    sums: Mapping[str, np.ndarray] = field(default_factory=dict)
    squares: Mapping[str, np.ndarray] = field(default_factory=dict)
    crosses: Mapping[str, np.ndarray] = field(default_factory=dict)
    cubes: Mapping[str, np.ndarray] = field(default_factory=dict)
    weight_squares: np.ndarray | None = None
    weight_cubes: np.ndarray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise dtypes once, here
        set_(self, "scores", np.asarray(self.scores, dtype=np.float64))
        set_(self, "labels", np.asarray(self.labels, dtype=np.int8))
        set_(self, "rows", np.asarray(self.rows, dtype=np.int64))
        set_(self, "weights", np.asarray(self.weights, dtype=np.float64))
        for name in RAW_SUMS:
            if getattr(self, name) is not None:
                set_(self, name, np.asarray(getattr(self, name), dtype=np.float64))
            elif self.mode == "binned":
                raise ValueError(f"binned ScoreCounts need {name}: a bin holds many scores")
        set_(self, "keys", _arrays(self.keys))
        set_(self, "sums", _arrays(self.sums))
        set_(self, "squares", {k: np.asarray(v, dtype=np.float64) for k, v in _arrays(self.squares).items()})
        set_(self, "crosses", {k: np.asarray(v, dtype=np.float64) for k, v in _arrays(self.crosses).items()})
        set_(self, "cubes", {k: np.asarray(v, dtype=np.float64) for k, v in _arrays(self.cubes).items()})
        for name in ("weight_squares", "weight_cubes"):
            if getattr(self, name) is not None:
                set_(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        unknown = (set(self.squares) | set(self.cubes) | set(self.crosses)) - set(self.sums)
        if unknown:
            raise ValueError(f"ScoreCounts squares/crosses/cubes name no value column: {sorted(unknown)}")
        n_cells = self.scores.shape[0]
        arrays = {name: getattr(self, name) for name in CELL_FIELDS if getattr(self, name) is not None}
        arrays |= dict(self.keys) | dict(self.sums)
        arrays |= {f"squares[{k}]": v for k, v in self.squares.items()}
        arrays |= {f"crosses[{k}]": v for k, v in self.crosses.items()}
        arrays |= {f"cubes[{k}]": v for k, v in self.cubes.items()}
        arrays |= {name: getattr(self, name) for name in WEIGHT_MOMENTS if getattr(self, name) is not None}
        for name, values in arrays.items():
            if values.shape != (n_cells,):
                raise ValueError(f"ScoreCounts.{name} has shape {values.shape}, expected ({n_cells},)")
        if n_cells and (self.labels.min() < 0 or self.labels.max() > 1):
            raise ValueError("ScoreCounts.labels must be 0 or 1")
        if self.mode not in ("exact", "binned"):
            raise ValueError(f"ScoreCounts.mode must be 'exact' or 'binned', not {self.mode!r}")

    @property
    def cells(self) -> int:
        return int(self.scores.shape[0])

    @property
    def n_rows(self) -> int:
        """Number of data rows counted."""
        return int(self.rows.sum())

    @property
    def n(self) -> float:
        """Weighted number of items."""
        return float(self.weights.sum())

    @property
    def positives(self) -> float:
        """Weighted number of positive items."""
        return float(self.weights[self.labels == 1].sum())

    @property
    def negatives(self) -> float:
        return float(self.weights[self.labels == 0].sum())

    @property
    def prevalence(self) -> float | None:
        """Share of positives (weighted); None when there are no items."""
        return self.positives / self.n if self.n > 0 else None

    @property
    def is_probability(self) -> bool:
        """Whether every raw score lies in [0, 1], so Brier, log loss and calibration mean something."""
        return bool(self.cells) and 0.0 <= self.score_min and self.score_max <= 1.0

    @property
    def is_hard_decision(self) -> bool:
        """Whether the scores are 0/1 decisions, which give a single operating point."""
        return bool(self.cells) and self.mode == "exact" and bool(np.isin(self.scores, (0.0, 1.0)).all())

    def raw_sum(self, name: str) -> np.ndarray:
        """One of RAW_SUMS per cell: stored, or derived from the cell's own score in exact mode."""
        stored: np.ndarray | None = getattr(self, name)
        if stored is not None:
            return stored
        if name == "score_sums":
            return self.weights * self.scores
        if name == "brier_sums":
            return self.weights * (self.labels - self.scores) ** 2
        return self.weights * log_loss_terms(self.labels, self.scores)

    def cell(self, name: str) -> np.ndarray:
        """Any of CELL_FIELDS per cell (raw sums derived when not stored)."""
        return self.raw_sum(name) if name in RAW_SUMS else getattr(self, name)

    def to_frame(self) -> pd.DataFrame:
        """One row per cell, long form."""
        import pandas as pd

        columns = {name: self.cell(name) for name in CELL_FIELDS}
        columns |= {f"key:{name}": values for name, values in self.keys.items()}
        columns |= {f"sum:{name}": values for name, values in self.sums.items()}
        columns |= {f"square:{name}": values for name, values in self.squares.items()}
        columns |= {f"cross:{name}": values for name, values in self.crosses.items()}
        columns |= {f"cube:{name}": values for name, values in self.cubes.items()}
        columns |= {name: getattr(self, name) for name in WEIGHT_MOMENTS if getattr(self, name) is not None}
        return pd.DataFrame(columns)

    def decided_by(self, key: str) -> ScoreCounts:
        """The same cells scored by a 0/1 key instead (a status quo's recorded decisions): its curve's point
        at threshold 1 is that status quo, counted on exactly the same items."""
        return ScoreCounts(
            **{name: getattr(self, name) for name in CELL_FIELDS if name != "scores"},
            scores=np.asarray(self.keys[key], dtype=np.float64), score_min=0.0, score_max=1.0, mode="exact",
            keys=self.keys, **self.spreads())

    def select(self, cells: np.ndarray) -> ScoreCounts:
        """The counts of some cells only (a boolean mask or indexes): one segment's or one time window's items,
        when the segment or window is a key. The score range is that of the cells kept (in binned mode, within
        the whole range: a bin's lowest edge is not a score of the segment)."""
        def kept(values: np.ndarray | None) -> Any:
            return None if values is None else values[cells]

        scores = self.scores[cells]
        low = float(scores.min()) if len(scores) else np.nan
        high = float(scores.max()) if len(scores) else np.nan
        if self.mode == "binned" and len(scores):
            low, high = max(low, self.score_min), self.score_max
        return ScoreCounts(
            **{name: kept(getattr(self, name)) for name in CELL_FIELDS}, score_min=low, score_max=high,
            mode=self.mode, bins=self.bins, keys={k: v[cells] for k, v in self.keys.items()},
            sums={k: v[cells] for k, v in self.sums.items()}, squares={k: v[cells] for k, v in self.squares.items()},
            crosses={k: v[cells] for k, v in self.crosses.items()}, cubes={k: v[cells] for k, v in self.cubes.items()},
            weight_squares=kept(self.weight_squares), weight_cubes=kept(self.weight_cubes))

    def spreads(self) -> dict[str, Any]:
        """The value sums and every sum of powers, as keyword arguments of ScoreCounts (to copy them)."""
        return {"sums": self.sums, "squares": self.squares, "crosses": self.crosses, "cubes": self.cubes,
                **{name: getattr(self, name) for name in WEIGHT_MOMENTS}}

    def merge(self, other: ScoreCounts) -> ScoreCounts:
        """Counts of both inputs together (two parts of one evaluation set, counted apart)."""
        if set(self.keys) != set(other.keys) or set(self.sums) != set(other.sums) or (
                set(self.squares) != set(other.squares) or set(self.crosses) != set(other.crosses)
                or set(self.cubes) != set(other.cubes)) or any(
                (getattr(self, name) is None) != (getattr(other, name) is None) for name in WEIGHT_MOMENTS):
            raise ValueError("cannot merge ScoreCounts with different keys, sums or squares")
        if self.mode != other.mode:
            raise ValueError("cannot merge exact and binned ScoreCounts")
        import pandas as pd

        both = pd.concat([self.to_frame(), other.to_frame()], ignore_index=True)
        group_by = ["scores", "labels", *(f"key:{name}" for name in self.keys)]
        merged = both.groupby(group_by, sort=True, dropna=False).sum().reset_index()
        return ScoreCounts(
            **{name: merged[name].to_numpy() for name in CELL_FIELDS},
            score_min=min(self.score_min, other.score_min),
            score_max=max(self.score_max, other.score_max),
            mode=self.mode,
            bins=self.bins,
            keys={name: merged[f"key:{name}"].to_numpy() for name in self.keys},
            sums={name: merged[f"sum:{name}"].to_numpy() for name in self.sums},
            squares={name: merged[f"square:{name}"].to_numpy() for name in self.squares},
            crosses={name: merged[f"cross:{name}"].to_numpy() for name in self.crosses},
            cubes={name: merged[f"cube:{name}"].to_numpy() for name in self.cubes},
            **{name: merged[name].to_numpy() for name in WEIGHT_MOMENTS if getattr(self, name) is not None},
        )
