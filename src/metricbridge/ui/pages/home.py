"""Home: what metricbridge does, the data loaded, and where to go next."""

from __future__ import annotations

import streamlit as st

from metricbridge.narrative import number, percent
from metricbridge.ui import links, state, widgets


def render() -> None:
    st.title("metricbridge")
    st.markdown(
        "metricbridge turns a model's predictions into what they mean for the people who use them: how many "
        "items it catches, how many it misses and how many false alarms it raises, at the threshold you "
        "choose. Upload labels and scores (CSV or Parquet), or explore the demo data below.")
    report = widgets.loaded_report()
    if report is None:
        return
    state.sync_url()
    source = state.current_source()
    demo = state.DEMOS.get(source.demo) if source and source.demo else None
    data = report.data
    with st.container(border=True):
        st.subheader(f"Loaded: {demo.title + ' (demo)' if demo else data.file}")
        if demo:
            st.caption(demo.about)
        cols = st.columns(4)
        cols[0].metric("Rows", number(data.rows))
        cols[1].metric("Positives", number(data.positive_rows),
                       help=f"Rows whose label {data.label!r} is {data.positive!r}")
        cols[2].metric("Share positive", percent(data.positive_rows / data.rows if data.rows else None, 2))
        cols[3].metric("Models", len(report.models), help=", ".join(m.name for m in report.models))
    threshold = st.session_state.get(state.THRESHOLD)
    if threshold is not None:
        report = report.at(threshold)
    best = max(report.models, key=lambda m: m.to_dict()["roc_auc"] or 0.0)
    point = best.at_threshold
    st.markdown(
        f"**At threshold {best.threshold:.3g}, {best.name}** flags {number(point['tp'] + point['fp'])} of "
        f"{number(best.counts.n)} items: it catches **{number(point['tp'])}** of {number(best.counts.positives)} "
        f"positives, misses **{number(point['fn'])}**, and raises **{number(point['fp'])}** false alarms.")
    left, middle, right = st.columns(3)
    left.page_link(links.page("stakeholder"), label="The view for stakeholders", icon=":material/groups:")
    middle.page_link(links.page("metrics"), label="Choose a threshold and see every metric", icon=":material/tune:")
    right.page_link(links.page("data"), label="Upload your own predictions", icon=":material/upload_file:")
    with st.expander("What to upload"):
        st.markdown(
            "A table with one row per item: a **label** column (0/1, true/false, yes/no, or two values you "
            "name) and one **score** column per model (probabilities, or any numbers where higher means more "
            "likely positive). Other columns (ids, dates, segments, today's rule) are kept for later stages. "
            "CSV with any common separator, or Parquet.")
