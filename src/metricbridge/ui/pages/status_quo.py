"""Against today: the model next to each status quo, matching operating points, the bar, what matters."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from metricbridge import charts, views
from metricbridge.narrative import difference_sentence, money, number
from metricbridge.ui import charting, guard, links, state, widgets


def _threshold(value: float | None) -> str:
    return "flagging nothing" if value is None or pd.isna(value) else f"threshold **{value:.4g}**"


def _matches(report, name: str, scenario) -> None:
    for row in state.view(views.matches_frame, report, name).to_dict("records"):
        if pd.isna(row["actions needed"]):
            catch_text = "no threshold catches as many"
        else:
            catch_text = (f"{_threshold(row['threshold to catch as many'])} catches as many "
                          f"({number(round(row['its caught']))}) with **{number(round(row['actions needed']))}** "
                          f"{scenario.action}s (it uses {number(round(row['its actions']))})")
        work_text = (f"{_threshold(row['threshold at its workload'])} catches "
                     f"**{number(round(row['caught at its workload']))}**")
        st.markdown(f"- **{row['status quo']}**: {catch_text}; with its workload, {work_text}.")


def _sensitivity(report, name: str, scenario) -> None:
    with st.spinner("Finding the range of costs over which the best threshold stays best…"):
        frame, band, worth = state.sensitivity(report, name)
    if not frame.empty:
        charting.show(charts.tornado_chart(frame, currency=scenario.currency))
    if band is not None:
        high = "any higher" if math.isinf(band.high) else f"{band.high:.3g}"
        st.markdown(f"A false alarm costs **{band.ratio:.3g}×** what a miss costs. The best threshold stays best "
                    f"while that ratio is between **{band.low:.3g}** and **{high}**.")
    if worth is not None:
        st.markdown(f"Capacity binds: one more {scenario.action} per {scenario.period} is worth about "
                    f"**{money(worth, scenario.currency)}** (from 10% more capacity).")


@guard.fragment
def _at_threshold(report, name: str, scenario) -> None:
    """The model against each status quo at the threshold: a slider move reruns only this."""
    threshold = widgets.threshold_control(report, name)
    state.sync_url()
    model_point = report.outcomes[name].at(threshold.value)
    cards = st.columns(len(report.status_quo))
    for column, sq in zip(cards, report.status_quo, strict=True):
        with column.container(border=True):
            st.markdown(f"**{name} vs {sq.name}**")
            st.metric(f"Value per {scenario.period}", money(model_point["value"], scenario.currency, signed=True),
                      delta=money(model_point["value"] - sq.point["value"], scenario.currency, signed=True))
            st.caption(difference_sentence(model_point, sq.point, scenario, name=sq.name))
    charting.show(charts.comparison_chart(views.comparison_frame(report, name, threshold.value)), width="content")
    if threshold.provisional:  # the threshold chosen against the criteria: fill it in
        widgets.settle_threshold(threshold, widgets.chosen(report, name))


def render() -> None:
    st.title("Against today")
    report = widgets.loaded_report()
    if report is None:
        return
    if report.scenario is None or not report.status_quo:
        st.info("Choose a scenario with a status quo (what is done today) on the Outcomes page.")
        st.page_link(links.page("outcomes"), label="Go to Outcomes", icon=":material/payments:")
        return
    scenario = report.scenario
    name = widgets.pick_model(report)
    _at_threshold(report, name, scenario)
    st.subheader("Matching today")
    _matches(report, name, scenario)
    st.subheader("The bar to beat")
    st.caption("Dashed: the lowest precision at each recall that is worth as much as each status quo, at the "
               "deployment's prevalence. Where the model's curve runs above a line, it is worth more.")
    charting.show(charts.break_even_chart(state.view(views.deployment_pr, report, name),
                                          state.view(views.break_even_bars, report, name)))
    st.subheader("Which assumption matters")
    st.caption("The best value within capacity when each input moves from -50% to +50%; the widest bars are "
               "the assumptions worth pinning down.")
    _sensitivity(report, name, scenario)
