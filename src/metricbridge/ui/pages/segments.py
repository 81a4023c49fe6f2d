"""Segments: is the model good enough for everyone, not only on average? Failing segments first, in words."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metricbridge import charts
from metricbridge.errors import MetricBridgeError
from metricbridge.ui import charting, links, state, widgets

_FIGURES = charts.SEGMENT_FIGURES


def render() -> None:
    st.title("Segments")
    report = widgets.loaded_report()
    if report is None:
        return
    source = state.current_source()
    if source is None:
        return
    columns = state.segment_columns(source, report)
    if not columns:
        st.info("The file has no column of groups (a channel, a region, a merchant type) to split the items by.")
        return
    name = widgets.pick_model(report)
    threshold = state.threshold_for(report, name).value
    remembered = st.session_state.get(state.SEGMENT_COLUMN)
    column = st.selectbox("Split the items by", columns, key="segment_column",
                          index=columns.index(remembered) if remembered in columns else 0)
    st.session_state[state.SEGMENT_COLUMN] = column
    st.caption(f"At threshold {threshold:.4g}, the one {name} uses on every page (move it on Metrics and "
               "threshold); a segment with fewer than 100 items or 10 positives is not judged.")
    st.page_link(links.page("metrics"), label="Metrics and threshold", icon=":material/tune:")
    try:
        with st.spinner(f"Counting each value of {column}…"):
            quick = state.segment_figures(source, name, column, threshold)
    except MetricBridgeError as error:
        st.error(str(error))
        return
    early = st.empty()
    if not state.segments_job(source, report, name, column, threshold).done:
        with early.container():  # the figures at once; the verdicts and intervals when the bootstrap is done
            charting.show(charts.segment_chart(quick, "recall", _FIGURES["recall"]))
    try:
        result = state.segments(source, report, name, column, threshold)
    except MetricBridgeError as error:
        st.error(str(error))
        return
    early.empty()
    if result.warning:
        st.warning(result.warning)
    for sentence in result.sentences():
        if sentence != result.warning:  # said once, above
            st.markdown(f"- {sentence}")
    figure = st.radio("Figure", list(_FIGURES), format_func=_FIGURES.get, horizontal=True, key="segment_figure")
    frame = result.to_frame()
    charting.show(charts.segment_chart(frame, figure, _FIGURES[figure]))
    with st.expander("The numbers"):
        shown = ["segment", "status", "rows", "positives", "recall", "precision", "flag_rate"]
        st.dataframe(frame[[c for c in shown if c in frame.columns]], hide_index=True)
    _per_segment_thresholds(source, report, name, column, threshold)


def _per_segment_thresholds(source: state.Source, report, name: str, column: str, threshold: float) -> None:
    with st.expander("One threshold per segment, under the same capacity"):
        try:
            shared = state.capacity_plan_for(source, report, name, column, threshold)
        except MetricBridgeError as error:
            st.info(str(error))
            return
        st.markdown(shared.lines[0])
        for sentence in shared.sentences:
            st.markdown(sentence)
        st.dataframe(pd.DataFrame(shared.entry["segments"]), hide_index=True)
