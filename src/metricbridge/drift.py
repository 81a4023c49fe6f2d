"""Score drift: has a window's score distribution moved away from the reference's?

After the go decision the model runs on new items, and their labels arrive late or never. The scores arrive
at once, so the first sign that the evaluation no longer describes the model's use is a change in the score
distribution. Both inputs are ScoreCounts (a window is ``counts.select(...)`` of a time key); only the cells'
scores and weights are read, both label cells of a score together, so a window counted before its labels
arrived (every label 0) is measured the same as a labelled one.

- :func:`psi`: the population stability index over the reference's score quantiles, the banking industry's
  rule of thumb (0.1 "some shift", 0.25 "a major shift"); it says how large the shift is.
- :func:`ks`: the two-sample Kolmogorov-Smirnov statistic and p-value; it says whether a shift that size is
  beyond chance for windows of that size (large windows make tiny shifts "significant": read it with PSI).
- :func:`score_drift`: both, the change in the share of positives when the window is labelled, and a verdict
  with its reasons in plain words against :class:`DriftThresholds`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from metricbridge.counts import ScoreCounts
from metricbridge.errors import InputError

__all__ = ["PSI_FLOOR", "DEFAULT_DRIFT_THRESHOLDS", "Drift", "DriftThresholds", "effective_size", "ks", "psi",
           "score_drift"]

PSI_FLOOR = 1e-4
"""The smallest share a PSI bin counts with: an empty bin of either side would make log(share) infinite, so
shares below this are raised to it (not renormalised). A bin empty on one side adds about
share x log(share / 1e-4), e.g. 0.1 x log(1000) = 0.69 for a decile that vanished."""


def _distribution(counts: ScoreCounts, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct cell scores (ascending) and the weighted count at each, both labels and every key
    together. In binned mode a cell's score is its bin's lowest edge: windows selected from one ScoreCounts
    share the bins, so their distributions are compared bin by bin."""
    if counts.n <= 0:
        raise InputError(f"the {name} has no items (its weighted count is {counts.n:g}): drift needs the scores "
                         f"of some items on both sides; choose a window that holds some.")
    scores, position = np.unique(counts.scores, return_inverse=True)
    return scores, np.bincount(position, weights=counts.weights, minlength=len(scores))


def _cdf(scores: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The weighted share of items with score <= each of ``at`` (``scores`` ascending)."""
    cumulative = np.r_[0.0, np.cumsum(weights)]
    return cumulative[np.searchsorted(scores, at, side="right")] / cumulative[-1]


def _quantile_edges(scores: np.ndarray, weights: np.ndarray, bins: int) -> np.ndarray:
    """The reference's weighted score quantiles at 1/bins, ..., (bins-1)/bins: for each, the smallest score
    whose cumulative share reaches it (numpy's "inverted_cdf"), duplicates dropped (a score holding more than
    one bin's share makes fewer, larger bins)."""
    share = np.cumsum(weights) / weights.sum()
    targets = np.arange(1, bins) / bins
    # a share that rounding left a hair below its target (0.3 as 0.30000000000000004) still reaches it
    picks = np.searchsorted(share, targets - 1e-12, side="left")
    return np.unique(scores[np.minimum(picks, len(scores) - 1)])


def _bin_shares(scores: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The weighted share of items per bin (low, high]: a bin ends at and includes its quantile."""
    bin_of = np.searchsorted(edges, scores, side="left")
    return np.bincount(bin_of, weights=weights, minlength=len(edges) + 1) / weights.sum()


def psi(reference: ScoreCounts, window: ScoreCounts, *, bins: int = 10) -> float:
    """Population stability index of ``window``'s scores against ``reference``'s: sum over bins of
    (window share - reference share) x log(window share / reference share), 0 for the same distribution.

    The bins are the reference's weighted score quantiles (deciles by default), each ending at and including
    its quantile, so each holds about 1/bins of the reference (fewer bins when scores tie heavily). Shares
    below :data:`PSI_FLOOR` count as that floor. Raises InputError when either side has no items or
    ``bins`` is below 2.
    """
    if not (isinstance(bins, int | np.integer) and bins >= 2):
        raise InputError(f"PSI bins must be a whole number of at least 2, not {bins!r}.")
    reference_scores, reference_weights = _distribution(reference, "reference")
    window_scores, window_weights = _distribution(window, "window")
    edges = _quantile_edges(reference_scores, reference_weights, int(bins))
    expected = np.maximum(_bin_shares(reference_scores, reference_weights, edges), PSI_FLOOR)
    actual = np.maximum(_bin_shares(window_scores, window_weights, edges), PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def effective_size(counts: ScoreCounts) -> float:
    """Kish's effective number of items, (sum w)^2 / sum w^2: the row count when every weight is 1, fewer
    when weights differ (a few heavy rows say less than many light ones). Without ``weight_squares`` the rows
    of a cell are taken as alike (each weighs the cell's weight / rows)."""
    if counts.weight_squares is not None:
        squares = float(counts.weight_squares.sum())
    else:
        rows = np.maximum(counts.rows, 1)
        squares = float(np.sum(counts.weights * counts.weights / rows))
    return counts.n * counts.n / squares if squares > 0 else 0.0


def ks(reference: ScoreCounts, window: ScoreCounts) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test of ``window``'s scores against ``reference``'s: (statistic, p-value).

    The statistic is the largest distance between the two weighted score CDFs over the union of cell scores:
    exact for exact-mode counts (scipy's ``ks_2samp`` on the raw scores); in binned mode the CDFs are exact at
    the bin edges, so with shared bins it can miss at most the distance inside one bin.

    The p-value is the asymptotic two-sided one, as ``ks_2samp(method="asymp")`` computes it: the
    Kolmogorov-Smirnov distribution (``scipy.stats.kstwo``) at n1 n2 / (n1 + n2), rounded, with n1 and n2
    Kish's effective sizes (:func:`effective_size`; the row counts when unweighted). It assumes the items are
    independent draws and the scores continuous: ties (few distinct scores, or bins) make it conservative,
    and Kish's n for unequal weights is an approximation. A large window makes a tiny shift significant: read
    the p-value as "beyond chance", and PSI or the statistic as "how large".
    """
    from scipy.stats import kstwo

    reference_scores, reference_weights = _distribution(reference, "reference")
    window_scores, window_weights = _distribution(window, "window")
    union = np.union1d(reference_scores, window_scores)
    distance = np.abs(_cdf(reference_scores, reference_weights, union) - _cdf(window_scores, window_weights, union))
    statistic = float(distance.max())
    n1, n2 = effective_size(reference), effective_size(window)
    size = max(1.0, float(np.round(n1 * n2 / (n1 + n2))))
    return statistic, float(np.clip(kstwo.sf(statistic, size), 0.0, 1.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftThresholds:
    """When a window counts as drifted; None turns a rule off.

    - ``psi``: PSI above this (0.2: between the usual 0.1 "some shift" and 0.25 "a major shift").
    - ``ks_p_value``: KS p-value below this (the shift is beyond chance).
    - ``prevalence_change``: the share of positives moved by more than this (absolute, 0.05 = 5 points), only
      when the window is labelled; off by default, since a change in prevalence is news, not necessarily drift.
    """

    psi: float | None = 0.2
    ks_p_value: float | None = 0.01
    prevalence_change: float | None = None

    def __post_init__(self) -> None:
        for name in ("psi", "ks_p_value", "prevalence_change"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise InputError(f"drift threshold {name} must be a number of at least 0 or None, not {value!r}.")
        if self.ks_p_value is not None and self.ks_p_value > 1:
            raise InputError(f"drift threshold ks_p_value is a probability (0 to 1), not {self.ks_p_value!r}.")


DEFAULT_DRIFT_THRESHOLDS = DriftThresholds()


@dataclass(frozen=True, slots=True, kw_only=True)
class Drift:
    """Score drift of one window against the reference, with the verdict and why.

    ``reference_prevalence`` and ``window_prevalence`` are shares of positives (weighted); the window's and
    ``prevalence_change`` (window - reference, absolute) are None when the window has no labels yet.
    ``reasons`` says in plain words each rule of ``thresholds`` that the window breaks; none when not drifted.
    """

    psi: float
    ks_statistic: float
    ks_p_value: float
    reference_prevalence: float | None
    window_prevalence: float | None
    thresholds: DriftThresholds
    reasons: tuple[str, ...] = ()

    @property
    def prevalence_change(self) -> float | None:
        if self.window_prevalence is None or self.reference_prevalence is None:
            return None
        return self.window_prevalence - self.reference_prevalence

    @property
    def drifted(self) -> bool:
        return bool(self.reasons)

    def judged_by(self, thresholds: DriftThresholds) -> Drift:
        """The same figures judged by other thresholds (nothing is measured again)."""
        return replace(self, thresholds=thresholds, reasons=_reasons(
            self.psi, self.ks_statistic, self.ks_p_value, self.prevalence_change, thresholds))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every figure, the verdict, its reasons and the thresholds it was judged by."""
        return {"psi": self.psi, "ks_statistic": self.ks_statistic, "ks_p_value": self.ks_p_value,
                "reference_prevalence": self.reference_prevalence, "window_prevalence": self.window_prevalence,
                "prevalence_change": self.prevalence_change, "drifted": self.drifted, "reasons": list(self.reasons),
                "thresholds": asdict(self.thresholds)}


def _reasons(psi_value: float, ks_statistic: float, ks_p_value: float, change: float | None,
             thresholds: DriftThresholds) -> tuple[str, ...]:
    """Each rule broken, in words a stakeholder reads."""
    reasons = []
    if thresholds.psi is not None and psi_value > thresholds.psi:
        reasons.append(f"scores shifted: PSI {psi_value:.2f}, above {thresholds.psi:g}")
    if thresholds.ks_p_value is not None and ks_p_value < thresholds.ks_p_value:
        reasons.append(f"score distribution differs beyond chance: KS p-value {ks_p_value:.2g}, below "
                       f"{thresholds.ks_p_value:g} (largest gap between the distributions {ks_statistic:.1%})")
    if thresholds.prevalence_change is not None and change is not None and abs(change) > thresholds.prevalence_change:
        reasons.append(f"share of positives moved by {change * 100:+.1f} points, more than "
                       f"{thresholds.prevalence_change * 100:g}")
    return tuple(reasons)


def score_drift(reference: ScoreCounts, window: ScoreCounts, *,
                thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS, labelled: bool = True, bins: int = 10) -> Drift:
    """PSI (over ``bins`` reference quantiles), KS and, when ``labelled``, the change in the share of positives
    of ``window`` against ``reference``, judged by ``thresholds``. Pass ``labelled=False`` for a window whose
    labels have not arrived (counted with every label 0: its share of positives means nothing)."""
    psi_value = psi(reference, window, bins=bins)
    statistic, p_value = ks(reference, window)
    window_prevalence = window.prevalence if labelled else None
    reference_prevalence = reference.prevalence
    change = None if window_prevalence is None or reference_prevalence is None else (
        window_prevalence - reference_prevalence)
    return Drift(psi=psi_value, ks_statistic=statistic, ks_p_value=p_value, reference_prevalence=reference_prevalence,
                 window_prevalence=window_prevalence, thresholds=thresholds,
                 reasons=_reasons(psi_value, statistic, p_value, change, thresholds))
