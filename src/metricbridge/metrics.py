"""Threshold-free metrics and the evaluation summary of one model, from ScoreCounts and its curve.

Conventions follow scikit-learn (the reference in the tests); a metric that needs both classes is None
when one is missing, and :func:`single_class_warning` says why in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from metricbridge.counts import ScoreCounts
from metricbridge.curve import ThresholdCurve, curve_from_counts

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "roc_auc", "average_precision", "roc_auc_of", "average_precision_of", "brier", "log_loss",
    "calibration_table", "single_class_warning", "Evaluation", "evaluate_counts",
]


def roc_auc_of(curve: ThresholdCurve) -> np.ndarray:
    """Area under the ROC curve of a curve or of each curve of a batch (trapezoids, ties as diagonal
    steps); NaN where a class is missing. The point figure and its bootstrap are both this function."""
    with np.errstate(invalid="ignore"):
        return np.asarray(np.trapezoid(curve.recall, curve.fpr, axis=-1), dtype=np.float64)


def average_precision_of(curve: ThresholdCurve) -> np.ndarray:
    """Sum of precision x recall increase over thresholds (no interpolation), per curve of a batch;
    NaN where there are no positives."""
    recall = curve.recall
    gain = np.diff(recall, axis=-1) * np.nan_to_num(curve.precision[..., 1:])
    return np.where(np.isnan(recall[..., -1]), np.nan, np.nansum(gain, axis=-1))


def _figure(values: np.ndarray) -> float | None:
    value = float(values)
    return None if math.isnan(value) else value


def roc_auc(curve: ThresholdCurve) -> float | None:
    """Area under the ROC curve; None without both classes."""
    if curve.positives <= 0 or curve.negatives <= 0:
        return None
    return _figure(roc_auc_of(curve))


def average_precision(curve: ThresholdCurve) -> float | None:
    """Average precision (scikit-learn's, no interpolation); None without positives."""
    if curve.positives <= 0:
        return None
    return _figure(average_precision_of(curve))


def brier(counts: ScoreCounts) -> float | None:
    """Mean squared gap between score and label; None unless every score lies in [0, 1]."""
    if not counts.is_probability or counts.n <= 0:
        return None
    return float(counts.raw_sum("brier_sums").sum() / counts.n)


def log_loss(counts: ScoreCounts) -> float | None:
    """Mean negative log-likelihood of the labels; None unless every score lies in [0, 1]."""
    if not counts.is_probability or counts.n <= 0:
        return None
    return float(counts.raw_sum("log_loss_sums").sum() / counts.n)


def calibration_table(counts: ScoreCounts, *, bins: int = 10) -> pd.DataFrame:
    """Reliability table over ``bins`` equal-width score bins of [0, 1] (scikit-learn's "uniform").

    One row per non-empty bin: ``bin_low``, ``bin_high``, ``rows``, ``weight``, ``mean_score`` (the
    predicted rate) and ``observed_rate`` (the share of positives). A cell is placed by its score in exact
    mode. Binned counting puts each k/10 and the next double above it among its edges, so with the default 10
    bins a cell lies inside one calibration bin and is placed by its lowest edge (a cell of scores exactly on
    k/10 goes to the bin that ends there, as in scikit-learn); with other bin counts, by its mean score.
    Empty for scores that are not probabilities.
    """
    import pandas as pd

    columns = ["bin_low", "bin_high", "rows", "weight", "mean_score", "observed_rate"]
    if not counts.is_probability:
        return pd.DataFrame(columns=columns)
    edges = np.linspace(0.0, 1.0, bins + 1)
    if counts.mode == "exact" or bins == 10:
        cell_scores = counts.scores  # the score or the lowest edge: a mean of equal floats can drift over an edge
    else:
        cell_scores = np.divide(counts.raw_sum("score_sums"), counts.weights, out=counts.scores.copy(),
                                where=counts.weights > 0)
    bin_ids = np.searchsorted(edges[1:-1], cell_scores, side="left")  # as sklearn: (low, high]
    weight = np.bincount(bin_ids, weights=counts.weights, minlength=bins)
    table = pd.DataFrame({
        "bin_low": edges[:-1],
        "bin_high": edges[1:],
        "rows": np.bincount(bin_ids, weights=counts.rows, minlength=bins).astype(np.int64),
        "weight": weight,
        "mean_score": np.bincount(bin_ids, weights=counts.raw_sum("score_sums"), minlength=bins) / np.where(
            weight > 0, weight, 1.0),
        "observed_rate": np.bincount(bin_ids, weights=counts.weights * counts.labels, minlength=bins)
        / np.where(weight > 0, weight, 1.0),
    })
    return table[table["weight"] > 0].reset_index(drop=True)


def single_class_warning(counts: ScoreCounts, *, name: str = "the scores") -> str | None:
    """Why metrics that need both classes are missing, or None when both classes are present."""
    if counts.positives > 0 and counts.negatives > 0:
        return None
    missing = "positive" if counts.positives <= 0 else "negative"
    return (
        f"Every labelled item for {name} is {'negative' if missing == 'positive' else 'positive'}: with no "
        f"{missing} items, ROC AUC{', average precision' if missing == 'positive' else ''} and the rates "
        f"that divide by the {missing}s cannot be computed and are left empty. Evaluate on data that "
        "holds both classes."
    )


def _clean(value: float | None) -> float | None:
    """NaN and None both become None (JSON null)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Evaluation:
    """Every figure of one model: threshold-free metrics and the operating point at ``threshold``."""

    name: str
    counts: ScoreCounts
    curve: ThresholdCurve
    threshold: float
    # figures that do not depend on the threshold, computed once and shared by the copies at() makes
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def at_threshold(self) -> dict[str, float]:
        return self.curve.at(self.threshold)

    @property
    def threshold_free(self) -> dict[str, float | None]:
        """ROC AUC, average precision, Brier score and log loss (None where undefined)."""
        if "threshold_free" not in self.memo:
            self.memo["threshold_free"] = {
                "roc_auc": roc_auc(self.curve), "average_precision": average_precision(self.curve),
                "brier": brier(self.counts), "log_loss": log_loss(self.counts)}
        figures: dict[str, float | None] = self.memo["threshold_free"]
        return figures

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the CLI (figures unrounded, NaN as null)."""
        counts = self.counts
        return {
            "name": self.name,
            "rows": counts.n_rows,
            "n": counts.n,
            "positives": counts.positives,
            "prevalence": _clean(counts.prevalence),
            "counting": {"mode": counts.mode, "cells": counts.cells, "bins": counts.bins},
            "score_range": [counts.score_min, counts.score_max],
            "hard_decisions": counts.is_hard_decision,
            **self.threshold_free,
            "threshold": self.threshold,
            "at_threshold": {key: _clean(value) for key, value in self.at_threshold.items()},
        }


def evaluate_counts(name: str, counts: ScoreCounts, *, threshold: float) -> Evaluation:
    """Build the curve of ``counts`` and bundle it with the threshold for reporting."""
    return Evaluation(name=name, counts=counts, curve=curve_from_counts(counts), threshold=threshold)
