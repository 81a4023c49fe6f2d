"""Altair charts: pure functions ``(data, *, options) -> alt.Chart`` over long-form frames.

Curves are downsampled before drawing (Altair refuses more than 5,000 rows, and a browser slows long before
that) with :meth:`ThresholdCurve.downsample`, which keeps the corners.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import altair as alt
import numpy as np
import pandas as pd

from metricbridge.metrics import Evaluation, calibration_table

__all__ = [
    "curves_frame", "operating_points", "roc_chart", "pr_chart", "metrics_chart", "calibration_chart",
    "calibration_frame", "MAX_CURVE_POINTS", "METRIC_LABELS",
]

MAX_CURVE_POINTS = 600
METRIC_LABELS = {"precision": "Precision", "recall": "Recall", "f1": "F1", "flag_rate": "Share flagged",
                 "specificity": "Specificity", "fpr": "False-alarm rate", "accuracy": "Accuracy", "mcc": "MCC",
                 "balanced_accuracy": "Balanced accuracy"}
_HEIGHT = 380  # width follows the page column
LegendCorner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


def _layer(*layers: alt.Chart) -> alt.LayerChart:
    return alt.LayerChart(layer=list(layers))


def _finite(frame: pd.DataFrame) -> pd.DataFrame:
    """inf (the flag-nothing point) is no JSON number: show it as an empty threshold."""
    return frame.replace([np.inf, -np.inf], np.nan)


def curves_frame(evaluations: Sequence[Evaluation], *, max_points: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """Every model's curve, downsampled, in long form with a ``model`` column."""
    parts = []
    for evaluation in evaluations:
        frame = evaluation.curve.downsample(max_points).to_frame()
        frame.insert(0, "model", evaluation.name)
        parts.append(frame)
    return _finite(pd.concat(parts, ignore_index=True)) if parts else pd.DataFrame()


def operating_points(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """Each model's point at its threshold, for the markers."""
    rows = [{"model": e.name, "threshold": e.threshold, **e.at_threshold} for e in evaluations]
    return _finite(pd.DataFrame(rows))


def _model_color(frame: pd.DataFrame, corner: LegendCorner = "bottom-right") -> alt.Color:
    """Colour by model, with the legend inside the plot (a legend below would squeeze the plot)."""
    legend = alt.Legend(orient=corner, fillColor="white", padding=6) if frame["model"].nunique() > 1 else None
    return alt.Color("model:N", title="Model", legend=legend)


def _marker(points: pd.DataFrame, x: str, y: str) -> alt.Chart:
    return alt.Chart(points).mark_point(size=140, filled=True, stroke="black", strokeWidth=1.5).encode(
        x=f"{x}:Q", y=f"{y}:Q", color=alt.Color("model:N", legend=None),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip(f"{x}:Q", format=".3f"), alt.Tooltip(f"{y}:Q", format=".3f")])


def roc_chart(curves: pd.DataFrame, *, points: pd.DataFrame) -> alt.LayerChart:
    """ROC curve per model, the chance diagonal, and a marker at each model's threshold."""
    base = alt.Chart(curves).mark_line(interpolate="linear").encode(
        x=alt.X("fpr:Q", title="False-alarm rate (share of negatives flagged)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("recall:Q", title="Recall (share of positives caught)", scale=alt.Scale(domain=[0, 1])),
        color=_model_color(curves), order="fpr:Q",
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip("fpr:Q", format=".3f"), alt.Tooltip("recall:Q", format=".3f")])
    diagonal = alt.Chart(pd.DataFrame({"fpr": [0, 1], "recall": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="fpr:Q", y="recall:Q")
    return _layer(diagonal, base, _marker(points, "fpr", "recall")).properties(
        title="ROC curve", height=_HEIGHT)


def pr_chart(curves: pd.DataFrame, *, points: pd.DataFrame, base_rate: float | None = None) -> alt.LayerChart:
    """Precision against recall per model, the base rate (a random model), and the threshold markers."""
    defined = curves.dropna(subset=["precision"])
    line = alt.Chart(defined).mark_line(interpolate="step-after").encode(
        x=alt.X("recall:Q", title="Recall (share of positives caught)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("precision:Q", title="Precision (share of flags that are positives)",
                scale=alt.Scale(domain=[0, 1])),
        color=_model_color(curves, "top-right"), order=alt.Order("threshold:Q", sort="descending"),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip("recall:Q", format=".3f"), alt.Tooltip("precision:Q", format=".3f")])
    layers: list[alt.Chart] = [line, _marker(points.dropna(subset=["precision"]), "recall", "precision")]
    if base_rate is not None:
        layers.insert(0, alt.Chart(pd.DataFrame({"precision": [base_rate]})).mark_rule(
            strokeDash=[4, 4], color="gray").encode(y="precision:Q"))
    return _layer(*layers).properties(title="Precision and recall", height=_HEIGHT)


def metrics_chart(curves: pd.DataFrame, *, threshold: float,
                  metrics: Sequence[str] = ("precision", "recall", "f1", "flag_rate")) -> alt.LayerChart:
    """Chosen metrics of one model against the threshold, with a rule at the current threshold."""
    long = curves.dropna(subset=["threshold"]).melt(
        id_vars=["model", "threshold"], value_vars=list(metrics), var_name="metric", value_name="value")
    long["metric"] = long["metric"].map(lambda m: METRIC_LABELS.get(m, m))
    lines = alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("threshold:Q", title="Threshold (flag items with score ≥ threshold)"),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("metric:N", title=None, legend=alt.Legend(orient="right")),
        strokeDash=alt.StrokeDash("model:N", legend=None),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("metric:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip("value:Q", format=".3f")])
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(color="black", strokeWidth=2).encode(
        x="threshold:Q")
    return _layer(lines, rule).properties(title="Metrics against threshold", height=280)


def calibration_frame(evaluations: Sequence[Evaluation], *, bins: int = 10) -> pd.DataFrame:
    """Reliability tables of every probability model, long form."""
    parts = []
    for evaluation in evaluations:
        table = calibration_table(evaluation.counts, bins=bins)
        table.insert(0, "model", evaluation.name)
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def calibration_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Observed share of positives against mean score per bin; the diagonal is perfect calibration."""
    diagonal = alt.Chart(pd.DataFrame({"mean_score": [0, 1], "observed_rate": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="mean_score:Q", y="observed_rate:Q")
    points = alt.Chart(table).mark_line(point=True).encode(
        x=alt.X("mean_score:Q", title="Mean score in the bin (predicted rate)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("observed_rate:Q", title="Share that were positive (observed rate)",
                scale=alt.Scale(domain=[0, 1])),
        color=_model_color(table, "top-left"),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("bin_low:Q", format=".1f"),
                 alt.Tooltip("bin_high:Q", format=".1f"), alt.Tooltip("rows:Q", format=","),
                 alt.Tooltip("mean_score:Q", format=".3f"), alt.Tooltip("observed_rate:Q", format=".3f")])
    return _layer(diagonal, points).properties(title="Calibration", height=_HEIGHT)
