"""ThresholdCurve: confusion counts and every derived metric at every threshold.

An item is flagged when ``score >= threshold`` (:func:`metricbridge.counts.flags`). :func:`cumulate` is the
one counting primitive: it adds the cells of a ScoreCounts from the highest score down, for the data itself
or for a whole batch of bootstrap resamples at once (a leading resample axis), so point figures and their
resamples are the same code. scikit-learn's ``confusion_matrix_at_thresholds`` is the test oracle. Every
metric is a vectorized function of the ``tp``/``fp`` arrays, with its division-by-zero case decided here: a
ratio with a zero denominator is NaN (shown as "n/a", null in JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from metricbridge.counts import CountingMode, ScoreCounts

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ThresholdCurve", "POINT_METRICS", "curve_from_counts", "cumulate", "index_at", "ratio"]

# Figures reported at one threshold, in display order.
POINT_METRICS = (
    "tp", "fp", "fn", "tn", "precision", "recall", "f1", "specificity", "fpr", "accuracy",
    "balanced_accuracy", "mcc", "flag_rate", "lift",
)


def ratio(numerator: np.ndarray | float, denominator: np.ndarray | float, *, fill: float = np.nan,
          positive: bool = False) -> np.ndarray:
    """numerator / denominator, ``fill`` where the denominator is zero (or, with ``positive``, not above
    zero: a count that rounding left at -1e-16 is none). The one rule for "nothing to divide by", decided
    here: NaN for a metric, 0 for an outcome. (A plain division with the few bad places filled afterwards:
    numpy's ``divide(..., where=)`` costs ten times as much on a batch of resamples.)"""
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(np.true_divide(numerator, denominator), dtype=np.float64)
    bad = denominator <= 0 if positive else denominator == 0
    if bad.any():
        if out.ndim == 0:
            return np.asarray(fill, dtype=np.float64)
        np.putmask(out, np.broadcast_to(bad, out.shape), fill)
    return out



def index_at(thresholds: np.ndarray, threshold: float) -> int:
    """Index of the operating point that flags ``score >= threshold`` among decreasing ``thresholds``
    (the smallest threshold that is at least ``threshold``; 0, flag nothing, when every score is below)."""
    return max(0, int(np.searchsorted(-thresholds, -threshold, side="right")) - 1)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ThresholdCurve:
    """Weighted confusion counts at every distinct threshold, highest first.

    Element ``i`` describes flagging every item with ``score >= thresholds[i]``. ``thresholds[0]`` is
    ``+inf`` (flag nothing), so the curve always starts at tp = fp = 0 and ends at the lowest score
    (flag everything). ``positives`` and ``negatives`` are the weighted totals P and N.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: float | np.ndarray
    negatives: float | np.ndarray
    mode: CountingMode = "exact"
    # Per declared value column: cumulative weighted sums over flagged positives and flagged negatives,
    # aligned with ``thresholds``, and the totals over all positives and all negatives.
    value_tp: Mapping[str, np.ndarray] = field(default_factory=dict)
    value_fp: Mapping[str, np.ndarray] = field(default_factory=dict)
    value_totals: Mapping[str, tuple[float | np.ndarray, float | np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A batch of curves (one per bootstrap resample) puts the resamples on a leading axis of tp, fp and
        # the value sums, with positives and negatives of shape (resamples, 1); every metric broadcasts.
        length = np.shape(self.thresholds)
        if (len(length) != 1 or length[0] == 0 or np.shape(self.tp)[-1:] != length
                or np.shape(self.fp) != np.shape(self.tp)):
            raise ValueError("ThresholdCurve arrays must be non-empty and of equal length")
        if np.any(np.diff(self.thresholds) >= 0):
            raise ValueError("ThresholdCurve.thresholds must be strictly decreasing")

    # counts ---------------------------------------------------------------------------------------
    @property
    def fn(self) -> np.ndarray:
        return self.positives - self.tp

    @property
    def tn(self) -> np.ndarray:
        return self.negatives - self.fp

    @property
    def n(self) -> float | np.ndarray:
        return self.positives + self.negatives

    @property
    def flagged(self) -> np.ndarray:
        """Weighted number of items flagged."""
        return self.tp + self.fp

    @property
    def resamples(self) -> int | None:
        """How many resamples a batch holds; None for the curve of the data itself."""
        return int(np.shape(self.tp)[0]) if np.ndim(self.tp) > 1 else None

    # rates ----------------------------------------------------------------------------------------
    @property
    def precision(self) -> np.ndarray:
        return ratio(self.tp, self.flagged)

    @property
    def recall(self) -> np.ndarray:
        """True-positive rate: share of positives flagged."""
        return ratio(self.tp, self.positives)

    @property
    def specificity(self) -> np.ndarray:
        return ratio(self.tn, self.negatives)

    @property
    def fpr(self) -> np.ndarray:
        """False-positive rate: share of negatives flagged."""
        return ratio(self.fp, self.negatives)

    @property
    def f1(self) -> np.ndarray:
        return self.f_beta(1.0)

    def f_beta(self, beta: float) -> np.ndarray:
        """F-beta: recall weighted beta times as much as precision."""
        b2 = beta * beta
        return ratio((1 + b2) * self.tp, (1 + b2) * self.tp + b2 * self.fn + self.fp)

    @property
    def accuracy(self) -> np.ndarray:
        return ratio(self.tp + self.tn, self.n)

    @property
    def balanced_accuracy(self) -> np.ndarray:
        return (self.recall + self.specificity) / 2

    @property
    def mcc(self) -> np.ndarray:
        """Matthews correlation coefficient; NaN when a margin of the confusion matrix is empty."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return ratio(tp * tn - fp * fn, denominator)

    @property
    def flag_rate(self) -> np.ndarray:
        """Share of items flagged."""
        return ratio(self.flagged, self.n)

    @property
    def lift(self) -> np.ndarray:
        """Precision over the base rate: how many times richer in positives the flagged items are."""
        return ratio(self.precision, ratio(np.asarray(self.positives), self.n))

    # points ---------------------------------------------------------------------------------------
    def index_at(self, threshold: float) -> int:
        """Index of the operating point that flags ``score >= threshold``."""
        return index_at(self.thresholds, threshold)

    def at(self, threshold: float) -> dict[str, float]:
        """Every metric of POINT_METRICS at one threshold (NaN where undefined), computed at that point only."""
        point = self.take(np.array([self.index_at(threshold)]))
        return {name: float(np.asarray(getattr(point, name))[..., 0]) for name in POINT_METRICS}

    def to_frame(self) -> pd.DataFrame:
        """One row per threshold with every metric, long enough to chart or export."""
        import pandas as pd

        columns = {"threshold": self.thresholds} | {name: getattr(self, name) for name in POINT_METRICS}
        return pd.DataFrame(columns)

    def take(self, indices: np.ndarray) -> ThresholdCurve:
        """The curve restricted to some of its points (sorted indices)."""
        return ThresholdCurve(
            thresholds=self.thresholds[indices], tp=self.tp[..., indices], fp=self.fp[..., indices],
            positives=self.positives, negatives=self.negatives, mode=self.mode,
            value_tp={k: v[..., indices] for k, v in self.value_tp.items()},
            value_fp={k: v[..., indices] for k, v in self.value_fp.items()}, value_totals=self.value_totals,
        )

    def downsample_indices(self, max_points: int = 500) -> np.ndarray:
        """Indices of at most about ``max_points`` points for drawing, keeping both ends and the corners.

        First the points on a straight run of the ROC curve are dropped (as scikit-learn's
        ``drop_intermediate`` does), which loses no shape; if still too many remain, points are
        spread evenly along the path's length in (fpr, recall, precision), so steep and flat parts
        both keep their detail.
        """
        count = len(self.thresholds)
        if count <= max_points:
            return np.arange(count)
        corners = np.flatnonzero(np.r_[True, (np.diff(self.fp, 2) != 0) | (np.diff(self.tp, 2) != 0), True])
        if len(corners) > max_points:
            path = np.column_stack([self.fpr, self.recall, np.nan_to_num(self.precision)])[corners]
            length = np.r_[0.0, np.cumsum(np.abs(np.diff(path, axis=0)).sum(axis=1))]
            targets = np.linspace(0.0, length[-1], max_points)
            picks = np.unique(np.r_[0, np.searchsorted(length, targets), len(corners) - 1])
            corners = np.unique(corners[np.clip(picks, 0, len(corners) - 1)])
        return corners

    def downsample(self, max_points: int = 500) -> ThresholdCurve:
        """The curve at :meth:`downsample_indices` (itself when it is short enough)."""
        if len(self.thresholds) <= max_points:
            return self
        return self.take(self.downsample_indices(max_points))


_FEW_POINTS = 8  # up to this many thresholds, cumulating is a matrix product over the cells


def _descending(counts: ScoreCounts) -> slice | np.ndarray:
    """The cells that weigh something, from the highest score down (ties keep their order): a reversed
    view (``slice``) when the builder emitted them by ascending score and none weighs nothing, the common
    case, else their indices."""
    scores, weights = counts.scores, counts.weights
    ascending = len(scores) < 2 or bool(np.all(scores[1:] >= scores[:-1]))
    if ascending and bool(np.all(weights > 0)):
        return slice(None, None, -1)
    order = np.arange(len(scores))[::-1] if ascending else np.argsort(-scores, kind="stable")
    return order[weights[order] > 0]


def cumulate(counts: ScoreCounts, *, weights: np.ndarray | None = None,
             sums: Mapping[str, np.ndarray] | None = None) -> ThresholdCurve:
    """The ThresholdCurve of ``counts``: one point per distinct score of a cell that weighs something,
    plus flag-nothing first.

    ``weights`` (and the value-column ``sums``), when given, replace the cells' own with one row per
    bootstrap resample, shape (resamples, cells): the result is a batch of curves on the same thresholds.
    A cell weighing nothing in the data adds nothing in any resample (its rows weigh nothing), so its
    score is no threshold of either.
    """
    cell_weights = counts.weights if weights is None else np.asarray(weights)
    batch = cell_weights.ndim == 2
    cell_sums = counts.sums if sums is None else sums
    order = _descending(counts)
    ordered_scores = counts.scores[order]
    if len(ordered_scores) == 0:
        shape = (cell_weights.shape[0], 1) if batch else (1,)
        zeros = np.zeros(shape)
        totals = np.zeros((shape[0], 1)) if batch else 0.0
        return ThresholdCurve(thresholds=np.array([np.inf]), tp=zeros, fp=zeros.copy(), positives=totals,
                              negatives=totals, mode=counts.mode, value_tp={k: zeros.copy() for k in cell_sums},
                              value_fp={k: zeros.copy() for k in cell_sums},
                              value_totals={k: (totals, totals) for k in cell_sums})
    new_score = np.empty(len(ordered_scores), dtype=bool)
    new_score[0] = True
    np.not_equal(ordered_scores[1:], ordered_scores[:-1], out=new_score[1:])
    thresholds = np.r_[np.inf, ordered_scores[new_score]]
    last_of_point = np.r_[np.flatnonzero(new_score)[1:] - 1, len(ordered_scores) - 1]  # per point, in order
    positive = counts.labels[order] == 1

    def cumulated(values: np.ndarray, label_mask: np.ndarray) -> np.ndarray:
        """Cumulative sums of ``values`` over the cells of one label, at each threshold (flag-nothing 0):
        at point p, the sum over the label's cells on points 1..p."""
        if len(thresholds) <= _FEW_POINTS:  # e.g. a status quo's 0/1 decisions: a product over the cells
            point_of = np.cumsum(new_score)  # each ordered cell's point
            indicator = np.zeros((counts.cells, len(thresholds)))
            indicator[np.arange(counts.cells)[order][label_mask], point_of[label_mask]] = 1.0
            return np.cumsum(values @ indicator, axis=-1)
        ordered = values[..., order]  # a view in the common case
        out = np.zeros((*ordered.shape[:-1], len(thresholds)))
        if ordered.ndim == 1:  # the data: one pass over all cells, read in place
            out[1:] = np.cumsum(np.where(label_mask, ordered, 0.0))[last_of_point]
            return out
        # resamples: the label's cells only (half the work), then the running sum at each point's last cell
        cells = np.flatnonzero(label_mask)
        running = np.zeros((ordered.shape[0], len(cells) + 1))  # a 0 first: "none of the label's cells yet"
        np.cumsum(np.take(ordered, cells, axis=1), axis=1, out=running[:, 1:])
        np.take(running, np.searchsorted(cells, last_of_point, side="right"), axis=1, out=out[:, 1:])
        return out

    tp, fp = cumulated(cell_weights, positive), cumulated(cell_weights, ~positive)
    value_tp, value_fp, value_totals = {}, {}, {}
    for name, values in cell_sums.items():
        value_tp[name], value_fp[name] = cumulated(values, positive), cumulated(values, ~positive)
        value_totals[name] = _totals(value_tp[name], value_fp[name], batch)
    positives, negatives = _totals(tp, fp, batch)
    # The totals are the last cumulative counts, so flagging everything leaves fn = tn = 0 exactly.
    return ThresholdCurve(thresholds=thresholds, tp=tp, fp=fp, positives=positives, negatives=negatives,
                          mode=counts.mode, value_tp=value_tp, value_fp=value_fp, value_totals=value_totals)


def _totals(tp: np.ndarray, fp: np.ndarray, batch: bool) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Totals over all positives and negatives: floats for the data, (resamples, 1) for a batch."""
    if batch:
        return tp[:, -1:], fp[:, -1:]
    return float(tp[-1]), float(fp[-1])


def curve_from_counts(counts: ScoreCounts) -> ThresholdCurve:
    """Cumulate ScoreCounts into a ThresholdCurve (one point per distinct cell score, plus flag-nothing)."""
    return cumulate(counts)
