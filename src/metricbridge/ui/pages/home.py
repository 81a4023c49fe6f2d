"""Home: what metricbridge does, the data loaded, and where to go next."""

from __future__ import annotations

import streamlit as st

from metricbridge.metrics import Evaluation
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
    name = state.current_model(report)
    headline = st.empty()
    threshold = state.threshold_for(report, name)
    _headline(headline, report.at({name: threshold.value}).model(name))
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
    if threshold.provisional:  # the headline's threshold is the one chosen against the criteria: fill it in
        widgets.settle_threshold(threshold, widgets.chosen(report, name))


def _headline(slot, model: Evaluation) -> None:
    point = model.at_threshold
    slot.markdown(
        f"**At threshold {model.threshold:.3g}, {model.name}** flags {number(point['tp'] + point['fp'])} of "
        f"{number(model.counts.n)} items: it catches **{number(point['tp'])}** of "
        f"{number(model.counts.positives)} positives, misses **{number(point['fn'])}**, and raises "
        f"**{number(point['fp'])}** false alarms.")
