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


def roc_chart(curves: pd.DataFrame, *, points: pd.DataFrame, bands: pd.DataFrame | None = None) -> alt.LayerChart:
    """ROC curve per model, the chance diagonal, a marker at each model's threshold, and with ``bands`` (the
    bootstrap's, of one model) the interval of recall shaded beneath."""
    base = alt.Chart(curves).mark_line(interpolate="linear").encode(
        x=alt.X("fpr:Q", title="False-alarm rate (share of negatives flagged)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("recall:Q", title="Recall (share of positives caught)", scale=alt.Scale(domain=[0, 1])),
        color=_model_color(curves), order="fpr:Q",
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip("fpr:Q", format=".3f"), alt.Tooltip("recall:Q", format=".3f")])
    diagonal = alt.Chart(pd.DataFrame({"fpr": [0, 1], "recall": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="fpr:Q", y="recall:Q")
    layers = [diagonal, base, _marker(points, "fpr", "recall")]
    if bands is not None and not bands.empty:
        layers.insert(0, band_layer(bands, x="fpr", figure="recall"))
    return _layer(*layers).properties(title="ROC curve", height=_HEIGHT)


def pr_chart(curves: pd.DataFrame, *, points: pd.DataFrame, base_rate: float | None = None,
             bands: pd.DataFrame | None = None) -> alt.LayerChart:
    """Precision against recall per model, the base rate (a random model), the threshold markers, and with
    ``bands`` the interval of precision shaded beneath."""
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
    if bands is not None and not bands.empty:
        layers.insert(0, band_layer(bands, x="recall", figure="precision"))
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


# -- outcomes (scenario) -------------------------------------------------------------------------------------

def outcomes_chart(frame: pd.DataFrame, *, threshold: float, best: float | None, capacity: float | None,
                   figure: str = "value", title: str = "Value per period",
                   bands: pd.DataFrame | None = None) -> alt.LayerChart:
    """One outcome against the threshold: thresholds over capacity shaded, the best and current marked.

    ``frame`` is ``Outcomes.to_frame()`` (possibly downsampled); the flag-nothing row is left out.
    """
    data = _finite(frame).dropna(subset=["threshold"])
    line = alt.Chart(data).mark_line(interpolate="step-after").encode(
        x=alt.X("threshold:Q", title="Threshold (flag items with score ≥ threshold)"),
        y=alt.Y(f"{figure}:Q", title=title),
        tooltip=[alt.Tooltip("threshold:Q", format=".3f"), alt.Tooltip(f"{figure}:Q", format=",.1f"),
                 alt.Tooltip("actions:Q", format=",.1f"), alt.Tooltip("feasible:N")])
    layers: list[alt.Chart] = []
    if capacity is not None and not data["feasible"].all():
        over = data.loc[~data["feasible"], "threshold"]
        band = pd.DataFrame({"start": [over.min()], "end": [over.max()], "label": ["over capacity"]})
        layers.append(alt.Chart(band).mark_rect(color="#f4c7c3", opacity=0.5).encode(
            x="start:Q", x2="end:Q", tooltip=[alt.Tooltip("label:N")]))
    if bands is not None and f"{figure}_low" in bands:
        layers.append(band_layer(bands, x="threshold", figure=figure))
    layers.append(line)
    marks = [{"threshold": threshold, "which": "current"}]
    if best is not None:
        marks.append({"threshold": best, "which": "best within capacity"})
    layers.append(alt.Chart(pd.DataFrame(marks)).mark_rule(strokeWidth=2).encode(
        x="threshold:Q", strokeDash=alt.StrokeDash("which:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("which:N"), alt.Tooltip("threshold:Q", format=".3f")]))
    return _layer(*layers).properties(title=title, height=260)


def breakdown_chart(parts: pd.DataFrame, *, currency: str | None) -> alt.Chart:
    """Where the value comes from: one signed bar per outcome (``part``, ``value``)."""
    unit = f" ({currency})" if currency else ""
    return alt.Chart(parts).mark_bar().encode(
        y=alt.Y("part:N", title=None, sort=None),
        x=alt.X("value:Q", title=f"Value per period{unit}"),
        color=alt.condition(alt.datum.value >= 0, alt.value("#2e7d32"), alt.value("#c62828")),
        tooltip=[alt.Tooltip("part:N"), alt.Tooltip("value:Q", format=",.0f")],
    ).properties(title="Where the value comes from", height=200)


def comparison_chart(long: pd.DataFrame) -> alt.Chart:
    """Model and status quos side by side: one small panel per figure (``figure``, ``who``, ``amount``)."""
    order = list(dict.fromkeys(long["who"]))
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("who:N", title=None, sort=order, axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("amount:Q", title=None, axis=alt.Axis(format="~s")),
        color=alt.Color("who:N", sort=order, title=None, legend=alt.Legend(orient="top")),
        column=alt.Column("figure:N", title=None, sort=None),
        tooltip=[alt.Tooltip("who:N"), alt.Tooltip("figure:N"), alt.Tooltip("amount:Q", format=",.1f")],
    ).resolve_scale(y="independent").properties(width=80, height=180)


def break_even_chart(model: pd.DataFrame, bars: pd.DataFrame) -> alt.LayerChart:
    """The model's precision-recall curve at the deployment's prevalence, and each status quo's bar:
    above a bar's line, an operating point is worth more than that status quo."""
    bar_lines = alt.Chart(bars.dropna(subset=["precision"])).mark_line(strokeDash=[5, 3]).encode(
        x="recall:Q", y="precision:Q", color=alt.Color("name:N", title="Break-even with"),
        tooltip=[alt.Tooltip("name:N"), alt.Tooltip("recall:Q", format=".2f"),
                 alt.Tooltip("precision:Q", format=".3f")])
    curve = alt.Chart(model.dropna(subset=["precision"])).mark_line(color="black").encode(
        x=alt.X("recall:Q", title="Recall (share of positives caught)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("precision:Q", title="Precision at the deployment's prevalence", scale=alt.Scale(domain=[0, 1])),
        order=alt.Order("recall:Q"),
        tooltip=[alt.Tooltip("threshold:Q", format=".3f"), alt.Tooltip("recall:Q", format=".3f"),
                 alt.Tooltip("precision:Q", format=".3f")])
    return _layer(bar_lines, curve).properties(height=_HEIGHT)


def tornado_chart(frame: pd.DataFrame, *, currency: str | None) -> alt.LayerChart:
    """Best value when each input moves -50% and +50%: the widest bars are the assumptions that matter."""
    unit = f" ({currency})" if currency else ""
    base = alt.Chart(frame).encode(
        y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=260, labelOverlap=False)))
    bars = base.mark_bar(color="#90a4ae").encode(
        x=alt.X("low_value:Q", title=f"Best value per period{unit}"), x2="high_value:Q",
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("low_value:Q", title="at -50%", format=",.0f"),
                 alt.Tooltip("high_value:Q", title="at +50%", format=",.0f"),
                 alt.Tooltip("low_threshold:Q", title="best threshold at -50%", format=".3f"),
                 alt.Tooltip("high_threshold:Q", title="best threshold at +50%", format=".3f")])
    rule = alt.Chart(frame.head(1)).mark_rule(color="black").encode(x="base_value:Q")
    return _layer(bars, rule).properties(height=max(120, 40 * len(frame)))


def feasibility_chart(grid: pd.DataFrame, *, places: pd.DataFrame, model: pd.DataFrame | None = None) -> alt.LayerChart:
    """Operating points that meet every criterion (green), part of them (shades), or cannot exist (grey);
    ``places`` marks status quos (``name``, ``recall``, ``precision``); ``model`` is a curve to lay over it."""
    data = grid.assign(state=np.where(~grid["possible"], "cannot exist at this prevalence",
                                      np.where(grid["all"], "meets every criterion",
                                               "misses " + (grid["judged"] - grid["met"]).astype(str))))
    step = float(np.diff(np.unique(grid["recall"]))[:1].sum() or 0.02)
    misses = sorted(int(m) for m in (grid["judged"] - grid["met"]).unique() if m > 0)
    domain = ["meets every criterion", *(f"misses {m}" for m in misses), "cannot exist at this prevalence"]
    warm = ["#fde0c5", "#facba6", "#f8b58b", "#f59e72", "#f2855d", "#ef6a4c", "#eb4a40"]
    colors = ["#4caf50", *(warm[min(m - 1, len(warm) - 1)] for m in misses), "#eeeeee"]
    cells = alt.Chart(data).mark_rect().encode(
        x=alt.X("recall:Q", bin=alt.Bin(step=step), title="Recall (share of positives caught)"),
        y=alt.Y("precision:Q", bin=alt.Bin(step=float(np.diff(np.unique(grid["precision"]))[:1].sum() or 0.02)),
                title="Precision at the deployment's prevalence"),
        color=alt.Color("state:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=domain, range=colors)),
        tooltip=[alt.Tooltip("recall:Q", format=".2f"), alt.Tooltip("precision:Q", format=".2f"),
                 alt.Tooltip("state:N")])
    layers: list[alt.Chart] = [cells]
    if model is not None and not model.empty:
        layers.append(alt.Chart(model.dropna(subset=["precision"])).mark_line(color="black").encode(
            x="recall:Q", y="precision:Q", order=alt.Order("recall:Q")))
    layers.append(alt.Chart(places).mark_point(size=160, filled=True, color="black", shape="diamond").encode(
        x="recall:Q", y="precision:Q", tooltip=[alt.Tooltip("name:N"), alt.Tooltip("recall:Q", format=".2f"),
                                                alt.Tooltip("precision:Q", format=".2f")]))
    layers.append(alt.Chart(places).mark_text(dx=8, align="left", fontWeight="bold").encode(
        x="recall:Q", y="precision:Q", text="name:N"))
    return _layer(*layers).properties(height=_HEIGHT)


def band_layer(bands: pd.DataFrame, *, x: str, figure: str, max_points: int = MAX_CURVE_POINTS) -> alt.Chart:
    """A shaded band of ``figure`` between its resample interval, drawn against the point value of ``x``
    (as the curves are), to lay under a curve chart."""
    data = _finite(bands).dropna(subset=[x, f"{figure}_low", f"{figure}_high"])
    if len(data) > max_points:
        data = data.iloc[np.unique(np.linspace(0, len(data) - 1, max_points).astype(int))]
    return alt.Chart(data).mark_area(opacity=0.25, color="#1f77b4", interpolate="linear").encode(
        x=f"{x}:Q", y=f"{figure}_low:Q", y2=f"{figure}_high:Q",
        tooltip=[alt.Tooltip("threshold:Q", format=".3f"), alt.Tooltip(f"{figure}_low:Q", format=".3f"),
                 alt.Tooltip(f"{figure}_high:Q", format=".3f")])



def progress_chart(frame: pd.DataFrame) -> alt.FacetChart:
    """Each criterion's figure per run (with its interval) against its target: is the project moving?"""
    data = frame.assign(order=frame["created_at"].rank(method="dense").astype(int),
                        label=frame["run"] + " (" + frame["created_at"].astype(str).str[:10] + ")")
    base = alt.Chart(data).encode(x=alt.X("order:O", title="Run, in order saved", axis=alt.Axis(labels=False)))
    bars = base.mark_rule(strokeWidth=2, color="#90a4ae").encode(y="low:Q", y2="high:Q")
    points = base.mark_point(filled=True, size=90).encode(
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("verdict:N", scale=alt.Scale(domain=["pass", "uncertain", "fail"],
                                                     range=["#2e7d32", "#ef6c00", "#c62828"]), title="Verdict"),
        tooltip=[alt.Tooltip("label:N", title="run"), alt.Tooltip("value:Q", format=",.4g"),
                 alt.Tooltip("low:Q", format=",.4g"), alt.Tooltip("high:Q", format=",.4g"),
                 alt.Tooltip("target:Q", format=",.4g"), alt.Tooltip("probability:Q", format=".0%"),
                 alt.Tooltip("criteria:N")])
    line = base.mark_line(color="#607d8b").encode(y="value:Q")
    target = alt.Chart().mark_rule(strokeDash=[5, 4], color="black").encode(y="mean(target):Q")
    return alt.layer(bars, line, points, target, data=data).properties(width=260, height=180).facet(
        facet=alt.Facet("metric:N", title=None), columns=3).resolve_scale(y="independent")


ICON_COLORS = {"caught": "#2e7d32", "missed": "#c62828", "false alarm": "#f9a825", "left alone": "#cfd8dc"}


def icon_array_chart(frame: pd.DataFrame, *, positive: str) -> alt.Chart:
    """1,000 squares, one per item: caught, missed, false alarms, correctly left alone."""
    domain = [f"{positive} caught", f"{positive} missed", "false alarm", "correctly left alone"]
    return alt.Chart(frame).mark_rect(stroke="white", strokeWidth=2).encode(
        x=alt.X("column:O", axis=None), y=alt.Y("row:O", axis=None),
        color=alt.Color("outcome:N", title=None, legend=alt.Legend(orient="bottom", labelFontSize=14),
                        scale=alt.Scale(domain=domain, range=list(ICON_COLORS.values()))),
        tooltip=[alt.Tooltip("outcome:N")],
    ).properties(title="Every 1,000 items", width=600, height=375)


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as a self-contained SVG (no network, no scripts), for reports and downloads."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart.to_dict()))


def to_png(chart: alt.TopLevelMixin, *, scale: float = 2.0) -> bytes:
    import vl_convert

    return bytes(vl_convert.vegalite_to_png(chart.to_dict(), scale=scale))
