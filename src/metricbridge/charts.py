"""Charts: pure functions ``(data, *, options) -> Chart`` over long-form frames.

A :class:`Chart` is a Vega-Lite template whose layers read named data sources, plus the small frames bound to
those names. The template (marks, encodings, titles, scales, legends) is written with Altair once per distinct
set of options, validated and converted once, and cached; a rerun with new numbers (a threshold move, another
scenario value) only builds the frames. So everything that moves with the numbers (the threshold rule, the
markers, the base rate, the capacity band) is data, and only what a user names (a currency, a period, the
status quos) is an option of a template.

Curves are downsampled before drawing (a browser slows long before Altair's 5,000-row limit) with
:meth:`ThresholdCurve.downsample`, which keeps the corners, to at most :data:`MAX_CURVE_POINTS` points.
"""

from __future__ import annotations

import copy
import functools
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

from metricbridge.metrics import Evaluation, calibration_table

__all__ = [
    "Chart", "curves_frame", "operating_points", "roc_chart", "pr_chart", "metrics_chart", "calibration_chart",
    "calibration_frame", "outcomes_chart", "breakdown_chart", "comparison_chart", "break_even_chart",
    "tornado_chart", "feasibility_chart", "progress_chart", "icon_array_chart", "to_svg", "to_png",
    "MAX_CURVE_POINTS", "METRIC_LABELS", "DEFAULT_METRICS", "ICON_COLORS", "monitor_frame", "monitor_chart",
    "drift_frame", "drift_chart",
]

MAX_CURVE_POINTS = 500
METRIC_LABELS = {"precision": "Precision", "recall": "Recall", "f1": "F1", "flag_rate": "Share flagged",
                 "specificity": "Specificity", "fpr": "False-alarm rate", "accuracy": "Accuracy", "mcc": "MCC",
                 "balanced_accuracy": "Balanced accuracy"}
DEFAULT_METRICS = ("precision", "recall", "f1", "flag_rate")  # what metrics_chart draws unless told
_CURVE_COLUMNS = ("fpr", "recall", "precision")  # what the ROC and precision-recall charts read
_HEIGHT = 380  # width follows the page column
_TEMPLATES = 256  # distinct option sets kept per chart kind (options carry user text: keep the cache bounded)
# Altair's default theme: the view size that exported files (SVG, PNG) had when the spec came from Altair's
# own to_dict(). st.altair_chart leaves it out (it switches to the "none" theme), so templates leave it out too.
_EXPORT_CONFIG: Mapping[str, Any] = MappingProxyType({"view": {"continuousWidth": 300, "continuousHeight": 300}})
LegendCorner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Chart:
    """A Vega-Lite chart: a cached ``template`` whose layers read named data sources, and the ``data``
    frames bound to those names (only the columns the layers use).

    The template is shared by every chart built with the same options: treat it as read-only (:meth:`spec`
    and :meth:`to_dict` hand out copies).
    """

    template: Mapping[str, Any]
    data: Mapping[str, pd.DataFrame]
    texts: Mapping[str, str] = field(default_factory=dict)  # user words put into the template's {{slots}}

    def spec(self) -> dict[str, Any]:
        """The spec for ``st.vega_lite_chart``: the template (its text slots filled) with the frames as its
        ``datasets`` (Streamlit sends frames as Arrow, not JSON)."""
        return {**_filled(self.template, self.texts), "datasets": dict(self.data)}

    def to_dict(self) -> dict[str, Any]:
        """The whole Vega-Lite spec as JSON-ready values, as Altair's ``to_dict()`` gives it: datasets as
        records (NaN and inf as None) and Altair's default view size; for vl-convert and tests."""
        return {"config": copy.deepcopy(dict(_EXPORT_CONFIG)), **_filled(self.template, self.texts),
                "datasets": {name: alt.to_values(frame)["values"] for name, frame in self.data.items()}}


def _slot(name: str) -> str:
    """A place in a template for words that vary (a title, a currency): templates stay one per structure."""
    return "{{" + name + "}}"


def _filled(template: Any, texts: Mapping[str, str]) -> Any:
    """A copy of ``template`` with each ``{{name}}`` in its strings replaced by ``texts[name]`` (a copy:
    Streamlit edits specs in place, and the template is shared)."""
    if isinstance(template, Mapping):
        return {key: _filled(value, texts) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [_filled(value, texts) for value in template]
    if isinstance(template, str) and "{{" in template:
        for name, text in texts.items():
            template = template.replace(_slot(name), text)
    return template


def _template(chart: alt.TopLevelMixin) -> Mapping[str, Any]:
    """The chart validated and converted once; it reads only named data, so the frames stay out of it."""
    spec = chart.to_dict()
    spec.pop("config", None)  # the theme's, added back by Chart.to_dict()
    if "datasets" in spec:
        raise AssertionError("a chart template must read named data sources only")
    return MappingProxyType(spec)


def _layer(*layers: alt.Chart) -> alt.LayerChart:
    return alt.LayerChart(layer=list(layers))


def _named(name: str) -> alt.Chart:
    return alt.Chart(alt.NamedData(name))


def _finite(frame: pd.DataFrame) -> pd.DataFrame:
    """inf (the flag-nothing point) is no JSON number: show it as an empty threshold. (Only the float columns
    holding an inf are rewritten: ``DataFrame.replace`` over every column costs milliseconds a chart.)"""
    infinite = {}
    for column, dtype in frame.dtypes.items():
        if dtype.kind == "f":
            values = frame[column].to_numpy()
            if np.isinf(values).any():
                infinite[str(column)] = np.where(np.isinf(values), np.nan, values)
    return frame.assign(**infinite) if infinite else frame


_DERIVED: OrderedDict[tuple[int, tuple[Any, ...]], tuple[weakref.ref[pd.DataFrame], pd.DataFrame]] = OrderedDict()
_DERIVED_KEEP = 256
_WORTH_KEEPING = 50  # rows below which deriving again is cheaper than remembering


def _derived(source: pd.DataFrame, how: tuple[Any, ...], make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``make()``, the same object again for the same source frame and recipe: a cached curves or band frame
    gives the same chart frames on every rerun, so the app sends bytes it already encoded."""
    key = (id(source), how)
    kept = _DERIVED.get(key)
    if kept is not None and kept[0]() is source:
        return kept[1]
    result = make()
    if len(source) >= _WORTH_KEEPING:
        _DERIVED[key] = (weakref.ref(source), result)
        while len(_DERIVED) > _DERIVED_KEEP:
            _DERIVED.popitem(last=False)
    return result


def _columns(frame: pd.DataFrame, columns: Sequence[str], *, defined: str | None = None) -> pd.DataFrame:
    """Only the columns a chart reads (each once), without the rows where ``defined`` is missing, numbered
    from 0. (Built from the columns' arrays: ``.loc`` and ``dropna`` cost a few times more.)"""
    def make() -> pd.DataFrame:
        arrays = {column: frame[column].array for column in dict.fromkeys(columns)}
        if defined is not None:
            kept = frame[defined].notna().to_numpy()
            arrays = {column: array[kept] for column, array in arrays.items()}
        return pd.DataFrame(arrays)

    return _derived(frame, ("columns", tuple(columns), defined), make)


def _evenly(count: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``count`` rows, spread evenly, first and last included."""
    return np.unique(np.linspace(0, count - 1, max_points).astype(int))


def _several(frame: pd.DataFrame) -> bool:
    return bool(frame["model"].nunique() > 1)


def curves_frame(evaluations: Sequence[Evaluation], *, max_points: int = MAX_CURVE_POINTS,
                 metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Every model's curve, downsampled to at most ``max_points`` points that keep its corners and both
    ends, in long form: ``model``, ``threshold`` (NaN for flag-nothing), ``fpr``, ``recall``, ``precision``
    and the ``metrics`` that :func:`metrics_chart` is to draw."""
    columns = list(dict.fromkeys([*_CURVE_COLUMNS, *metrics]))
    models: list[np.ndarray] = []
    thresholds: list[np.ndarray] = []
    figures: dict[str, list[np.ndarray]] = {column: [] for column in columns}
    for evaluation in evaluations:
        curve = evaluation.curve.downsample(max_points)
        if len(curve.thresholds) > max_points:  # downsample() promises "about" max_points
            curve = curve.take(_evenly(len(curve.thresholds), max_points))
        models.append(np.full(len(curve.thresholds), evaluation.name, dtype=object))
        thresholds.append(np.where(np.isfinite(curve.thresholds), curve.thresholds, np.nan))
        for column in columns:
            figures[column].append(getattr(curve, column))
    if not models:
        return pd.DataFrame(columns=["model", "threshold", *columns])
    return _finite(pd.DataFrame({"model": np.concatenate(models), "threshold": np.concatenate(thresholds),
                                 **{column: np.concatenate(arrays) for column, arrays in figures.items()}}))


def operating_points(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """Each model's point at its threshold, for the markers: ``model``, ``threshold``, ``fpr``, ``recall``,
    ``precision``."""
    rows = []
    for evaluation in evaluations:
        point = evaluation.at_threshold  # computed on each access
        rows.append({"model": evaluation.name, "threshold": evaluation.threshold,
                     **{column: point[column] for column in _CURVE_COLUMNS}})
    return _finite(pd.DataFrame(rows, columns=["model", "threshold", *_CURVE_COLUMNS]))


# -- pieces of templates ------------------------------------------------------------------------------------

def _model_color(several: bool, corner: LegendCorner = "bottom-right") -> alt.Color:
    """Colour by model, with the legend inside the plot (a legend below would squeeze the plot)."""
    legend = alt.Legend(orient=corner, fillColor="white", padding=6) if several else None
    return alt.Color("model:N", title="Model", legend=legend)


def _marker(x: str, y: str) -> alt.Chart:
    """Each model's operating point, from the ``points`` source."""
    return _named("points").mark_point(size=140, filled=True, stroke="black", strokeWidth=1.5).encode(
        x=f"{x}:Q", y=f"{y}:Q", color=alt.Color("model:N", legend=None),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip(f"{x}:Q", format=".3f"), alt.Tooltip(f"{y}:Q", format=".3f")])


def _band_mark(x: str, figure: str) -> alt.Chart:
    """A shaded band of ``figure`` between its resample interval, drawn against the point value of ``x``
    (as the curves are), from the ``band`` source, to lay under a curve chart."""
    return _named("band").mark_area(opacity=0.25, color="#1f77b4", interpolate="linear").encode(
        x=f"{x}:Q", y=f"{figure}_low:Q", y2=f"{figure}_high:Q",
        tooltip=[alt.Tooltip("threshold:Q", format=".3f"), alt.Tooltip(f"{figure}_low:Q", format=".3f"),
                 alt.Tooltip(f"{figure}_high:Q", format=".3f")])


def _band_frame(bands: pd.DataFrame, *, x: str, figure: str, max_points: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """The rows of ``bands`` that :func:`_band_mark` draws (those with ``x`` and both ends of the interval),
    at most ``max_points`` of them spread evenly."""
    def make() -> pd.DataFrame:
        columns = list(dict.fromkeys([x, f"{figure}_low", f"{figure}_high", "threshold"]))
        values = {column: bands[column].to_numpy(dtype=float) for column in columns}
        kept = np.flatnonzero(np.isfinite(values[x]) & np.isfinite(values[f"{figure}_low"])
                              & np.isfinite(values[f"{figure}_high"]))
        if len(kept) > max_points:
            kept = kept[_evenly(len(kept), max_points)]
        return _finite(pd.DataFrame({column: array[kept] for column, array in values.items()}))

    return _derived(bands, ("band", x, figure, max_points), make)


def _diagonal(x: str, y: str) -> pd.DataFrame:
    return pd.DataFrame({x: [0, 1], y: [0, 1]})


# -- curves ---------------------------------------------------------------------------------------------------

@lru_cache(maxsize=_TEMPLATES)
def _roc_template(several: bool, banded: bool, width: int | None) -> Mapping[str, Any]:
    base = _named("curves").mark_line(interpolate="linear").encode(
        x=alt.X("fpr:Q", title="False-alarm rate (share of negatives flagged)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("recall:Q", title="Recall (share of positives caught)", scale=alt.Scale(domain=[0, 1])),
        color=_model_color(several), order="fpr:Q",
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip("fpr:Q", format=".3f"), alt.Tooltip("recall:Q", format=".3f")])
    diagonal = _named("diagonal").mark_line(strokeDash=[4, 4], color="gray").encode(x="fpr:Q", y="recall:Q")
    layers = [diagonal, base, _marker("fpr", "recall")]
    if banded:
        layers.insert(0, _band_mark("fpr", "recall"))
    chart = _layer(*layers).properties(title="ROC curve", height=_HEIGHT)
    return _template(chart if width is None else chart.properties(width=width))


def roc_chart(curves: pd.DataFrame, *, points: pd.DataFrame, bands: pd.DataFrame | None = None,
              width: int | None = None) -> Chart:
    """ROC curve per model, the chance diagonal, a marker at each model's threshold, and with ``bands`` (the
    bootstrap's, of one model) the interval of recall shaded beneath; ``width`` in pixels (default: the
    page column's, or Altair's 300 in an export)."""
    banded = bands is not None and not bands.empty
    data = {"diagonal": _diagonal("fpr", "recall"),
            "curves": _columns(curves, ["model", "threshold", "fpr", "recall"]),
            "points": _columns(points, ["model", "threshold", "fpr", "recall"])}
    if bands is not None and banded:
        data["band"] = _band_frame(bands, x="fpr", figure="recall")
    return Chart(template=_roc_template(_several(curves), banded, width), data=data)


@lru_cache(maxsize=_TEMPLATES)
def _pr_template(several: bool, base_rate: bool, banded: bool, width: int | None) -> Mapping[str, Any]:
    line = _named("curves").mark_line(interpolate="step-after").encode(
        x=alt.X("recall:Q", title="Recall (share of positives caught)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("precision:Q", title="Precision (share of flags that are positives)",
                scale=alt.Scale(domain=[0, 1])),
        color=_model_color(several, "top-right"), order=alt.Order("threshold:Q", sort="descending"),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip("recall:Q", format=".3f"), alt.Tooltip("precision:Q", format=".3f")])
    layers: list[alt.Chart] = [line, _marker("recall", "precision")]
    if base_rate:
        layers.insert(0, _named("base_rate").mark_rule(strokeDash=[4, 4], color="gray").encode(y="precision:Q"))
    if banded:
        layers.insert(0, _band_mark("recall", "precision"))
    chart = _layer(*layers).properties(title="Precision and recall", height=_HEIGHT)
    return _template(chart if width is None else chart.properties(width=width))


def pr_chart(curves: pd.DataFrame, *, points: pd.DataFrame, base_rate: float | None = None,
             bands: pd.DataFrame | None = None, width: int | None = None) -> Chart:
    """Precision against recall per model, the base rate (a random model), the threshold markers, and with
    ``bands`` the interval of precision shaded beneath; ``width`` as :func:`roc_chart`'s."""
    banded = bands is not None and not bands.empty
    columns = ["model", "threshold", "recall", "precision"]
    data = {"curves": _columns(curves, columns, defined="precision"),
            "points": _columns(points, columns, defined="precision")}
    if base_rate is not None:
        data["base_rate"] = pd.DataFrame({"precision": [base_rate]})
    if bands is not None and banded:
        data["band"] = _band_frame(bands, x="recall", figure="precision")
    return Chart(template=_pr_template(_several(curves), base_rate is not None, banded, width), data=data)


@lru_cache(maxsize=_TEMPLATES)
def _metrics_template() -> Mapping[str, Any]:
    lines = _named("metrics").mark_line(interpolate="step-after").encode(
        x=alt.X("threshold:Q", title="Threshold (flag items with score ≥ threshold)"),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("metric:N", title=None, legend=alt.Legend(orient="right")),
        strokeDash=alt.StrokeDash("model:N", legend=None),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("metric:N"), alt.Tooltip("threshold:Q", format=".3f"),
                 alt.Tooltip("value:Q", format=".3f")])
    rule = _named("threshold").mark_rule(color="black", strokeWidth=2).encode(x="threshold:Q")
    return _template(_layer(lines, rule).properties(title="Metrics against threshold", height=280))


def metrics_chart(curves: pd.DataFrame, *, threshold: float, metrics: Sequence[str] = DEFAULT_METRICS) -> Chart:
    """Chosen metrics of one model against the threshold, with a rule at the current threshold.

    ``curves`` is :func:`curves_frame` made with these ``metrics`` (its default draws the default ones).
    """
    missing = [metric for metric in metrics if metric not in curves.columns]
    if missing:
        raise ValueError(f"the curves frame has no column {', '.join(missing)}: make it with "
                         f"curves_frame(..., metrics={tuple(metrics)!r})")
    def make() -> pd.DataFrame:
        kept = curves["threshold"].notna().to_numpy()
        # long form, one block of rows per metric (as DataFrame.melt gives, at a fraction of its cost)
        return pd.DataFrame({
            "model": np.tile(curves["model"].to_numpy()[kept], len(metrics)),
            "threshold": np.tile(curves["threshold"].to_numpy()[kept], len(metrics)),
            "metric": np.repeat([METRIC_LABELS.get(metric, metric) for metric in metrics], int(kept.sum())),
            "value": np.concatenate([curves[metric].to_numpy(dtype=float)[kept] for metric in metrics])
            if metrics else np.empty(0)})

    long = _derived(curves, ("metrics", tuple(metrics)), make)
    return Chart(template=_metrics_template(),
                 data={"metrics": long, "threshold": pd.DataFrame({"threshold": [threshold]})})


def calibration_frame(evaluations: Sequence[Evaluation], *, bins: int = 10) -> pd.DataFrame:
    """Reliability tables of every probability model, long form."""
    parts = []
    for evaluation in evaluations:
        table = calibration_table(evaluation.counts, bins=bins)
        table.insert(0, "model", evaluation.name)
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


@lru_cache(maxsize=_TEMPLATES)
def _calibration_template(several: bool) -> Mapping[str, Any]:
    diagonal = _named("diagonal").mark_line(strokeDash=[4, 4], color="gray").encode(
        x="mean_score:Q", y="observed_rate:Q")
    points = _named("bins").mark_line(point=True).encode(
        x=alt.X("mean_score:Q", title="Mean score in the bin (predicted rate)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("observed_rate:Q", title="Share that were positive (observed rate)",
                scale=alt.Scale(domain=[0, 1])),
        color=_model_color(several, "top-left"),
        tooltip=[alt.Tooltip("model:N"), alt.Tooltip("bin_low:Q", format=".1f"),
                 alt.Tooltip("bin_high:Q", format=".1f"), alt.Tooltip("rows:Q", format=","),
                 alt.Tooltip("mean_score:Q", format=".3f"), alt.Tooltip("observed_rate:Q", format=".3f")])
    return _template(_layer(diagonal, points).properties(title="Calibration", height=_HEIGHT))


def calibration_chart(table: pd.DataFrame) -> Chart:
    """Observed share of positives against mean score per bin; the diagonal is perfect calibration."""
    bins = _columns(table, ["model", "bin_low", "bin_high", "rows", "mean_score", "observed_rate"])
    return Chart(template=_calibration_template(_several(table)),
                 data={"diagonal": _diagonal("mean_score", "observed_rate"), "bins": bins})


# -- outcomes (scenario) -------------------------------------------------------------------------------------

@lru_cache(maxsize=_TEMPLATES)
def _outcomes_template(figure: str, shaded: bool, banded: bool) -> Mapping[str, Any]:
    title = _slot("title")
    line = _named("outcomes").mark_line(interpolate="step-after").encode(
        x=alt.X("threshold:Q", title="Threshold (flag items with score ≥ threshold)"),
        y=alt.Y(f"{figure}:Q", title=title),
        tooltip=[alt.Tooltip("threshold:Q", format=".3f"), alt.Tooltip(f"{figure}:Q", format=",.1f"),
                 alt.Tooltip("actions:Q", format=",.1f"), alt.Tooltip("feasible:N")])
    layers: list[alt.Chart] = []
    if shaded:
        layers.append(_named("capacity").mark_rect(color="#f4c7c3", opacity=0.5).encode(
            x="start:Q", x2="end:Q", tooltip=[alt.Tooltip("label:N")]))
    if banded:
        layers.append(_band_mark("threshold", figure))
    layers.append(line)
    layers.append(_named("thresholds").mark_rule(strokeWidth=2).encode(
        x="threshold:Q", strokeDash=alt.StrokeDash("which:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("which:N"), alt.Tooltip("threshold:Q", format=".3f")]))
    return _template(_layer(*layers).properties(title=title, height=260))


def outcomes_chart(frame: pd.DataFrame, *, threshold: float, best: float | None, capacity: float | None,
                   figure: str = "value", title: str = "Value per period",
                   bands: pd.DataFrame | None = None) -> Chart:
    """One outcome against the threshold: thresholds over capacity shaded, the best and current marked.

    ``frame`` is ``Outcomes.to_frame()`` (possibly downsampled); the flag-nothing row is left out.
    """
    data = _derived(frame, ("outcomes", figure), lambda: _columns(
        _finite(frame), ["threshold", figure, "actions", "feasible"], defined="threshold"))
    shaded = capacity is not None and not data["feasible"].all()
    banded = bands is not None and f"{figure}_low" in bands
    frames: dict[str, pd.DataFrame] = {}
    if shaded:
        over = data.loc[~data["feasible"], "threshold"]
        frames["capacity"] = pd.DataFrame({"start": [over.min()], "end": [over.max()], "label": ["over capacity"]})
    if bands is not None and banded:
        frames["band"] = _band_frame(bands, x="threshold", figure=figure)
    frames["outcomes"] = data
    marks = [{"threshold": threshold, "which": "current"}]
    if best is not None:
        marks.append({"threshold": best, "which": "best within capacity"})
    frames["thresholds"] = pd.DataFrame(marks)
    return Chart(template=_outcomes_template(figure, shaded, banded), data=frames, texts={"title": title})


def _unit(currency: str | None) -> dict[str, str]:
    return {"unit": f" ({currency})" if currency else ""}


@lru_cache(maxsize=_TEMPLATES)
def _breakdown_template() -> Mapping[str, Any]:
    unit = _slot("unit")
    return _template(_named("parts").mark_bar().encode(
        y=alt.Y("part:N", title=None, sort=None),
        x=alt.X("value:Q", title=f"Value per period{unit}"),
        color=alt.condition(alt.datum.value >= 0, alt.value("#2e7d32"), alt.value("#c62828")),
        tooltip=[alt.Tooltip("part:N"), alt.Tooltip("value:Q", format=",.0f")],
    ).properties(title="Where the value comes from", height=200))


def breakdown_chart(parts: pd.DataFrame, *, currency: str | None) -> Chart:
    """Where the value comes from: one signed bar per outcome (``part``, ``value``)."""
    return Chart(template=_breakdown_template(), data={"parts": _columns(parts, ["part", "value"])},
                 texts=_unit(currency))


@lru_cache(maxsize=_TEMPLATES)
def _comparison_template(order: tuple[str, ...]) -> Mapping[str, Any]:
    return _template(_named("figures").mark_bar().encode(
        x=alt.X("who:N", title=None, sort=list(order), axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("amount:Q", title=None, axis=alt.Axis(format="~s")),
        color=alt.Color("who:N", sort=list(order), title=None, legend=alt.Legend(orient="top")),
        column=alt.Column("figure:N", title=None, sort=None),
        tooltip=[alt.Tooltip("who:N"), alt.Tooltip("figure:N"), alt.Tooltip("amount:Q", format=",.1f")],
    ).resolve_scale(y="independent").properties(width=80, height=180))


def comparison_chart(long: pd.DataFrame) -> Chart:
    """Model and status quos side by side: one small panel per figure (``figure``, ``who``, ``amount``)."""
    order = tuple(dict.fromkeys(long["who"]))
    return Chart(template=_comparison_template(order),
                 data={"figures": _columns(long, ["figure", "who", "amount"])})


@lru_cache(maxsize=_TEMPLATES)
def _break_even_template() -> Mapping[str, Any]:
    bar_lines = _named("bars").mark_line(strokeDash=[5, 3]).encode(
        x="recall:Q", y="precision:Q", color=alt.Color("name:N", title="Break-even with"),
        tooltip=[alt.Tooltip("name:N"), alt.Tooltip("recall:Q", format=".2f"),
                 alt.Tooltip("precision:Q", format=".3f")])
    curve = _named("curve").mark_line(color="black").encode(
        x=alt.X("recall:Q", title="Recall (share of positives caught)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("precision:Q", title="Precision at the deployment's prevalence", scale=alt.Scale(domain=[0, 1])),
        order=alt.Order("recall:Q"),
        tooltip=[alt.Tooltip("threshold:Q", format=".3f"), alt.Tooltip("recall:Q", format=".3f"),
                 alt.Tooltip("precision:Q", format=".3f")])
    return _template(_layer(bar_lines, curve).properties(height=_HEIGHT))


def break_even_chart(model: pd.DataFrame, bars: pd.DataFrame) -> Chart:
    """The model's precision-recall curve at the deployment's prevalence, and each status quo's bar:
    above a bar's line, an operating point is worth more than that status quo."""
    return Chart(template=_break_even_template(), data={
        "bars": _columns(bars, ["name", "recall", "precision"], defined="precision"),
        "curve": _columns(model, ["threshold", "recall", "precision"], defined="precision")})


@lru_cache(maxsize=_TEMPLATES)
def _tornado_template(height: int) -> Mapping[str, Any]:
    unit = _slot("unit")
    base = _named("inputs").encode(
        y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=260, labelOverlap=False)))
    bars = base.mark_bar(color="#90a4ae").encode(
        x=alt.X("low_value:Q", title=f"Best value per period{unit}"), x2="high_value:Q",
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("low_value:Q", title="at -50%", format=",.0f"),
                 alt.Tooltip("high_value:Q", title="at +50%", format=",.0f"),
                 alt.Tooltip("low_threshold:Q", title="best threshold at -50%", format=".3f"),
                 alt.Tooltip("high_threshold:Q", title="best threshold at +50%", format=".3f")])
    rule = _named("base").mark_rule(color="black").encode(x="base_value:Q")
    return _template(_layer(bars, rule).properties(height=height))


def tornado_chart(frame: pd.DataFrame, *, currency: str | None) -> Chart:
    """Best value when each input moves -50% and +50%: the widest bars are the assumptions that matter."""
    inputs = _columns(frame, ["label", "low_value", "high_value", "low_threshold", "high_threshold"])
    return Chart(template=_tornado_template(max(120, 40 * len(frame))),
                 data={"inputs": inputs, "base": _columns(frame.head(1), ["base_value"])}, texts=_unit(currency))


_WARM = ("#fde0c5", "#facba6", "#f8b58b", "#f59e72", "#f2855d", "#ef6a4c", "#eb4a40")


@lru_cache(maxsize=_TEMPLATES)
def _feasibility_template(recall_step: float, precision_step: float, misses: tuple[int, ...],
                          with_model: bool) -> Mapping[str, Any]:
    domain = ["meets every criterion", *(f"misses {m}" for m in misses), "cannot exist at this prevalence"]
    colors = ["#4caf50", *(_WARM[min(m - 1, len(_WARM) - 1)] for m in misses), "#eeeeee"]
    cells = _named("cells").mark_rect().encode(
        x=alt.X("recall:Q", bin=alt.Bin(step=recall_step), title="Recall (share of positives caught)"),
        y=alt.Y("precision:Q", bin=alt.Bin(step=precision_step), title="Precision at the deployment's prevalence"),
        color=alt.Color("state:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=domain, range=colors)),
        tooltip=[alt.Tooltip("recall:Q", format=".2f"), alt.Tooltip("precision:Q", format=".2f"),
                 alt.Tooltip("state:N")])
    layers: list[alt.Chart] = [cells]
    if with_model:
        layers.append(_named("model").mark_line(color="black").encode(
            x="recall:Q", y="precision:Q", order=alt.Order("recall:Q")))
    layers.append(_named("places").mark_point(size=160, filled=True, color="black", shape="diamond").encode(
        x="recall:Q", y="precision:Q", tooltip=[alt.Tooltip("name:N"), alt.Tooltip("recall:Q", format=".2f"),
                                                alt.Tooltip("precision:Q", format=".2f")]))
    layers.append(_named("places").mark_text(dx=8, align="left", fontWeight="bold").encode(
        x="recall:Q", y="precision:Q", text="name:N"))
    return _template(_layer(*layers).properties(height=_HEIGHT))


def _grid_step(values: pd.Series) -> float:
    return float(np.diff(np.unique(values))[:1].sum() or 0.02)


def feasibility_chart(grid: pd.DataFrame, *, places: pd.DataFrame, model: pd.DataFrame | None = None) -> Chart:
    """Operating points that meet every criterion (green), part of them (shades), or cannot exist (grey);
    ``places`` marks status quos (``name``, ``recall``, ``precision``); ``model`` is a curve to lay over it."""
    missed = grid["judged"] - grid["met"]
    state = np.where(~grid["possible"], "cannot exist at this prevalence",
                     np.where(grid["all"], "meets every criterion", "misses " + missed.astype(str)))
    misses = tuple(sorted(int(m) for m in missed.unique() if m > 0))
    with_model = model is not None and not model.empty
    data = {"cells": pd.DataFrame({"recall": grid["recall"].to_numpy(), "precision": grid["precision"].to_numpy(),
                                   "state": state})}
    if model is not None and with_model:
        data["model"] = _columns(model, ["recall", "precision"], defined="precision")
    data["places"] = _columns(places, ["name", "recall", "precision"])
    template = _feasibility_template(_grid_step(grid["recall"]), _grid_step(grid["precision"]), misses, with_model)
    return Chart(template=template, data=data)


# -- progress and the stakeholder's view ------------------------------------------------------------------------

@lru_cache(maxsize=_TEMPLATES)
def _progress_template() -> Mapping[str, Any]:
    base = alt.Chart().encode(x=alt.X("order:O", title="Run, in order saved", axis=alt.Axis(labels=False)))
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
    return _template(alt.layer(bars, line, points, target, data=alt.NamedData("runs")).properties(
        width=260, height=180).facet(facet=alt.Facet("metric:N", title=None), columns=3).resolve_scale(
        y="independent"))


def progress_chart(frame: pd.DataFrame) -> Chart:
    """Each criterion's figure per run (with its interval) against its target: is the project moving?"""
    runs = frame.assign(order=frame["created_at"].rank(method="dense").astype(int),
                        label=frame["run"] + " (" + frame["created_at"].astype(str).str[:10] + ")")
    return Chart(template=_progress_template(), data={"runs": _columns(runs, [
        "metric", "order", "label", "low", "high", "value", "verdict", "probability", "target", "criteria"])})


ICON_COLORS = {"caught": "#2e7d32", "missed": "#c62828", "false alarm": "#f9a825", "left alone": "#cfd8dc"}


@lru_cache(maxsize=_TEMPLATES)
def _icon_array_template() -> Mapping[str, Any]:
    positive = _slot("positive")
    domain = [f"{positive} caught", f"{positive} missed", "false alarm", "correctly left alone"]
    return _template(_named("icons").mark_rect(stroke="white", strokeWidth=2).encode(
        x=alt.X("column:O", axis=None), y=alt.Y("row:O", axis=None),
        color=alt.Color("outcome:N", title=None, legend=alt.Legend(orient="bottom", labelFontSize=14),
                        scale=alt.Scale(domain=domain, range=list(ICON_COLORS.values()))),
        tooltip=[alt.Tooltip("outcome:N")],
    ).properties(title="Every 1,000 items", width=600, height=375))


def icon_array_chart(frame: pd.DataFrame, *, positive: str) -> Chart:
    """1,000 squares, one per item: caught, missed, false alarms, correctly left alone."""
    return Chart(template=_icon_array_template(), data={"icons": _columns(frame, ["column", "row", "outcome"])},
                 texts={"positive": positive})


# -- warming up ---------------------------------------------------------------------------------------------

def warm_up(before_each: Callable[[], None] | None = None) -> int:
    """Build the templates every page draws with (each structure: one model or several, bands or none, ...)
    ahead of the first visit, as Altair's first charts of a process cost a second or more; returns how many.
    The app runs this once per server on a worker thread, calling ``before_each`` (which waits while more
    urgent work runs) before each template."""
    builds: list[Callable[[], Any]] = []
    for several, banded in ((False, False), (True, False), (False, True), (True, True)):
        builds.append(functools.partial(_roc_template, several, banded, None))
        for base_rate in (True, False):
            builds.append(functools.partial(_pr_template, several, base_rate, banded, None))
    builds += [_metrics_template, functools.partial(_calibration_template, False),
               functools.partial(_calibration_template, True), _breakdown_template, _break_even_template,
               _progress_template, _icon_array_template]
    for figure in ("value", "caught", "actions"):
        for shaded in (True, False):
            builds += [functools.partial(_outcomes_template, figure, shaded, banded) for banded in (True, False)]
    builds += [functools.partial(_tornado_template, height) for height in (120, 160, 200, 240, 280, 320, 360)]
    # views.feasibility's default grid: 61 points of recall in [0, 1] and of precision in [0.01, 1]
    steps = _grid_step(pd.Series(np.linspace(0.0, 1.0, 61))), _grid_step(pd.Series(np.linspace(0.01, 1.0, 61)))
    builds += [functools.partial(_feasibility_template, *steps, tuple(range(1, k + 1)), True) for k in range(5)]
    builds += [functools.partial(_segment_template, title) for title in SEGMENT_FIGURES.values()]
    builds += [functools.partial(_monitor_template, 640), functools.partial(_drift_template, 640)]
    for build in builds:
        if before_each is not None:
            before_each()
        build()
    return len(builds)


# -- export ------------------------------------------------------------------------------------------------

def to_svg(chart: Chart) -> str:
    """The chart as a self-contained SVG (no network, no scripts), for reports and downloads."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart.to_dict()))


def to_png(chart: Chart, *, scale: float = 2.0) -> bytes:
    """The chart as a PNG, ``scale`` times its size in pixels."""
    import vl_convert

    return bytes(vl_convert.vegalite_to_png(chart.to_dict(), scale=scale))


SEGMENT_FIGURES = {"recall": "Share of positives caught (recall)",
                   "precision": "Share of flags that are right (precision)", "flag_rate": "Share of items flagged"}


@lru_cache(maxsize=_TEMPLATES)
def _segment_template(title: str) -> Mapping[str, Any]:
    bars = _named("segments").mark_bar().encode(
        x=alt.X("value:Q", title=title, scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("segment:N", sort=None, title=None),
        color=alt.Color("status:N", title="Verdict", scale=alt.Scale(
            domain=["fail", "uncertain", "pass", "not judged", "too few items", "judging"],
            range=["#d62728", "#ff7f0e", "#2ca02c", "#7f7f7f", "#c7c7c7", "#9ecae1"])),
        tooltip=[alt.Tooltip("segment:N"), alt.Tooltip("value:Q", format=".3f"), alt.Tooltip("low:Q", format=".3f"),
                 alt.Tooltip("high:Q", format=".3f"), alt.Tooltip("status:N")])
    spread = _named("segments").mark_rule(color="black").encode(x="low:Q", x2="high:Q", y=alt.Y("segment:N", sort=None))
    return _template(_layer(bars, spread).properties(height=alt.Step(22)))


def segment_chart(frame: pd.DataFrame, metric: str, title: str) -> Chart:
    """One bar per segment (``segment``, ``status``, ``metric`` and its ``_low``/``_high`` interval), in the
    report's order (failing first), coloured by verdict, with the interval as a line."""
    data = pd.DataFrame({"segment": frame["segment"].astype(str), "status": frame["status"],
                         "value": frame[metric], "low": frame.get(f"{metric}_low", frame[metric]),
                         "high": frame.get(f"{metric}_high", frame[metric])})
    return Chart(template=_segment_template(title), data={"segments": data})


# -- monitoring --------------------------------------------------------------------------------------------

_VERDICT_COLORS = alt.Scale(domain=["fail", "uncertain", "pass", "no target"],
                            range=["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4"])
_BASIC_FIGURES = ("recall", "precision", "flag_rate")  # drawn when there are no criteria


def _window_end(starts: list[Any]) -> list[Any]:
    """Each window's end: the next window's start, the last one as long as the one before it (or a day)."""
    stamps = pd.to_datetime(pd.Series(starts))
    step = stamps.diff().iloc[-1] if len(stamps) > 1 else pd.Timedelta(days=1)
    return [*stamps.iloc[1:], stamps.iloc[-1] + step] if len(stamps) else []


def monitor_frame(report: Any) -> pd.DataFrame:
    """One row per window and criterion of a ``MonitorReport`` (its ``recall``, ``precision`` and
    ``flag_rate`` when there are no criteria): ``start``/``end`` of the window, ``window`` (its name),
    ``criterion`` (in words), ``value``, ``low``/``high`` (the interval), ``target``, ``verdict`` (pass,
    uncertain, fail; "no target" without criteria), ``estimated`` (labels pending: figures from the scores) and
    ``order`` (the criterion's place in the agreement)."""
    columns = ["start", "end", "window", "criterion", "value", "low", "high", "target", "verdict", "estimated"]
    if not report.windows:
        return pd.DataFrame(columns=[*columns, "order"])
    ends = _window_end([w.window for w in report.windows])
    criteria = report.criteria.criteria if report.criteria is not None else ()
    rows = []
    for window, end in zip(report.windows, ends, strict=True):
        verdicts = window.result.verdicts if window.result else ()
        judged = {v.criterion.describe(): (v.value, v.target) for v in verdicts}
        wanted = [(c.describe(), c.metric, c.bound) for c in criteria] or [
            (METRIC_LABELS[m], m, None) for m in _BASIC_FIGURES]
        for order, (words, metric, bound) in enumerate(wanted):
            if criteria and words not in window.verdicts:
                continue  # a criterion an estimate cannot judge (AUC, a status quo ratio)
            value, target = judged.get(words, (window.figures.get(metric), bound))
            low, high = window.intervals.get(metric, (np.nan, np.nan))
            rows.append({"start": pd.Timestamp(window.window), "end": end, "window": window.label, "criterion": words,
                         "value": value, "low": low, "high": high, "target": target,
                         "verdict": window.verdicts.get(words, "no target").removeprefix("estimated "),
                         "estimated": not window.labelled, "order": order})
    frame = pd.DataFrame(rows, columns=[*columns, "order"])
    for name in ("value", "low", "high", "target"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


@lru_cache(maxsize=_TEMPLATES)
def _monitor_template(width: int) -> Mapping[str, Any]:
    x = alt.X("start:T", title=None)
    shade = alt.Chart().mark_rect(color="#bbbbbb", opacity=0.25).encode(x=x, x2="end:T").transform_filter(
        "datum.estimated")
    band = alt.Chart().mark_area(opacity=0.2, color="#1f77b4").encode(x=x, y="low:Q", y2="high:Q")
    line = alt.Chart().mark_line(color="#1f77b4").encode(x=x, y=alt.Y("value:Q", title=None))
    points = alt.Chart().mark_point(filled=True, size=70).encode(
        x=x, y="value:Q", color=alt.Color("verdict:N", title="Verdict", scale=_VERDICT_COLORS),
        shape=alt.Shape("estimated:N", title="Estimated (labels pending)",
                        scale=alt.Scale(domain=[False, True], range=["circle", "diamond"])),
        tooltip=[alt.Tooltip("window:N"), alt.Tooltip("criterion:N"), alt.Tooltip("value:Q", format=".3g"),
                 alt.Tooltip("low:Q", format=".3g"), alt.Tooltip("high:Q", format=".3g"),
                 alt.Tooltip("target:Q", format=".3g"), alt.Tooltip("verdict:N"), alt.Tooltip("estimated:N")])
    target = alt.Chart().mark_rule(color="black", strokeDash=[5, 3]).encode(x=x, x2="end:T", y="target:Q")
    layered = alt.layer(shade, band, line, target, points, data=alt.NamedData("windows")).properties(
        width=width, height=140)
    header = alt.Header(labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top",
                        labelFontWeight="bold")
    row = alt.Row("criterion:N", title=None, sort=alt.SortField("order"), header=header)
    return _template(layered.facet(row=row).resolve_scale(y="independent"))


def monitor_chart(frame: pd.DataFrame, *, width: int = 640) -> Chart:
    """Each criterion across the windows (one row each): the figure with its interval band, the agreed target
    as a dashed line, points coloured by verdict, and the windows whose labels are pending shaded and marked as
    estimates (``frame`` from :func:`monitor_frame`)."""
    return Chart(template=_monitor_template(width), data={"windows": frame})


def drift_frame(report: Any) -> pd.DataFrame:
    """One row per window: ``start``, ``window``, ``psi``, ``ks_p_value``, ``drifted``, ``reasons`` (in words),
    ``estimated``, and ``psi_limit`` (the PSI above which a window counts as drifted, or NaN when off)."""
    rows = [{"start": pd.Timestamp(w.window), "window": w.label, "psi": w.drift.psi, "ks_p_value": w.drift.ks_p_value,
             "drifted": w.drift.drifted, "reasons": "; ".join(w.drift.reasons) or "no drift",
             "estimated": not w.labelled,
             "psi_limit": np.nan if w.drift.thresholds.psi is None else w.drift.thresholds.psi}
            for w in report.windows]
    return pd.DataFrame(rows, columns=["start", "window", "psi", "ks_p_value", "drifted", "reasons", "estimated",
                                       "psi_limit"])


@lru_cache(maxsize=_TEMPLATES)
def _drift_template(width: int) -> Mapping[str, Any]:
    x = alt.X("start:T", title=None)
    bars = _named("drift").mark_bar(size=14).encode(
        x=x, y=alt.Y("psi:Q", title="Score shift (PSI)"),
        color=alt.Color("drifted:N", title="Drifted", scale=alt.Scale(domain=[False, True],
                                                                        range=["#9ecae1", "#d62728"])),
        tooltip=[alt.Tooltip("window:N"), alt.Tooltip("psi:Q", format=".3f"), alt.Tooltip("ks_p_value:Q", format=".2g"),
                 alt.Tooltip("reasons:N")])
    limit = _named("drift").mark_rule(color="black", strokeDash=[5, 3]).encode(y="mean(psi_limit):Q")
    return _template(_layer(bars, limit).properties(width=width, height=160, title="Score drift against the reference"))


def drift_chart(frame: pd.DataFrame, *, width: int = 640) -> Chart:
    """PSI of each window against the reference, drifted windows in red, the PSI limit as a dashed line."""
    return Chart(template=_drift_template(width), data={"drift": frame})
