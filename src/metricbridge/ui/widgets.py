"""Pieces several pages share: the loaded report (or its error), the threshold control, messages."""

from __future__ import annotations

import math

import altair as alt
import streamlit as st

from metricbridge import charts
from metricbridge.errors import MetricBridgeError
from metricbridge.evaluate import EvaluationReport
from metricbridge.ui import links, state


def loaded_report(*, link_to_data: bool = True) -> EvaluationReport | None:
    """The report of the current data, or None after showing why there is none."""
    state.init()
    source = state.current_source()
    if source is None:
        st.info("No data loaded yet: upload a predictions file on the Data page.")
        st.page_link(links.page("data"), label="Go to Data", icon=":material/upload_file:")
        return None
    try:
        return state.report(source, state.current_choices())
    except MetricBridgeError as error:
        st.error(str(error))
        if link_to_data:
            st.page_link(links.page("data"), label="Fix the column choices on the Data page",
                         icon=":material/upload_file:")
        return None


def show_messages(report: EvaluationReport) -> None:
    for warning in report.warnings:
        st.warning(warning, icon=":material/warning:")


def pick_model(report: EvaluationReport, *, key: str) -> str:
    """The model a page details: a choice only when the file holds several."""
    names = [model.name for model in report.models]
    return str(st.selectbox("Model", names, key=key)) if len(names) > 1 else names[0]


def _bounds(report: EvaluationReport) -> tuple[float, float, float]:
    low = min(m.counts.score_min for m in report.models)
    high = max(m.counts.score_max for m in report.models)
    if all(m.counts.is_probability for m in report.models):
        return 0.0, 1.0, 0.001
    step = 10 ** math.floor(math.log10(max(high - low, 1e-9) / 1000))
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def threshold_control(report: EvaluationReport) -> float:
    """A slider and a number box that move together; the value is shared by every page and the URL."""
    low, high, step = _bounds(report)
    current = st.session_state.get(state.THRESHOLD)
    if current is None or not low <= current <= high:
        current = report.models[0].threshold
    current = float(min(max(current, low), high))
    for key in ("threshold_slider", "threshold_box"):
        st.session_state[key] = current

    def moved(key: str) -> None:
        state.set_threshold(float(st.session_state[key]))

    left, right = st.columns([4, 1])
    left.slider("Threshold: flag items whose score is at least", min_value=low, max_value=high, step=step,
                key="threshold_slider", on_change=moved, args=("threshold_slider",), format="%.3f")
    right.number_input("Exact threshold", min_value=low, max_value=high, step=step, key="threshold_box",
                       on_change=moved, args=("threshold_box",), format="%.4f")
    state.set_threshold(current)
    return current


def chart_downloads(chart: alt.TopLevelMixin, name: str, *, key: str) -> None:
    """SVG and PNG of a chart, made on request (converting every chart on every rerun would be slow)."""
    if st.button(f"Prepare {name} as SVG and PNG", key=f"{key}_prepare"):
        left, right = st.columns(2)
        left.download_button(f"{name} (SVG)", charts.to_svg(chart), file_name=f"{key}.svg", mime="image/svg+xml",
                             key=f"{key}_svg")
        right.download_button(f"{name} (PNG)", charts.to_png(chart), file_name=f"{key}.png", mime="image/png",
                              key=f"{key}_png")
