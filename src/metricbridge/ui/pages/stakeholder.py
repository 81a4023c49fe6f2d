"""For stakeholders: what the model would do, in the scenario's words, large and calm, no jargon."""

from __future__ import annotations

import functools

import streamlit as st

from metricbridge import charts, present
from metricbridge.narrative import money, plural
from metricbridge.report import html_report
from metricbridge.ui import charting, links, state, widgets

_COLOURS = {"Ready to pilot": "green", "Promising": "orange", "Not yet": "red"}


def _rating(judged, name: str, item: str) -> None:
    result = judged.verdicts.get(name)
    rating = present.rating(result)
    if rating.label:
        st.markdown(f"## :{_COLOURS[rating.label]}[{rating.label}]")
        st.markdown(f"{rating.explanation} {present.plain_verdict_line(result, item=item)}")
    elif st.session_state.get(state.CRITERIA_ERROR):
        st.warning("The agreed criteria cannot be judged under this scenario; see the Success criteria page.")
    else:
        st.markdown(rating.explanation)


def render() -> None:
    report = widgets.loaded_report()
    if report is None:
        return
    scenario = report.scenario
    if scenario is None:
        st.info("Choose what the model is for (a scenario) on the Outcomes page first.")
        st.page_link(links.page("outcomes"), label="Go to Outcomes", icon=":material/payments:")
        return
    st.title(scenario.name)
    name = state.current_model(report)
    threshold = state.threshold_for(report, name)
    rating_slot = st.container()
    outcomes = report.outcomes[name]
    agreed = outcomes.actions[outcomes.index_at(threshold.value)]
    level = st.select_slider(f"Send {plural(scenario.action)}", options=list(present.REVIEW_LEVELS),
                             value="as agreed", key="stakeholder_level",
                             help=f"More {plural(scenario.action)} catch more {plural(scenario.positive)} and "
                                  "take more work")
    chosen = present.threshold_for_actions(outcomes, agreed * present.REVIEW_LEVELS[level])
    point = outcomes.at(chosen)
    for sentence in present.summary_sentences(report, name, chosen):
        st.markdown(f"### {sentence}")
    cards = st.columns(4)
    cards[0].metric(f"{plural(scenario.positive).capitalize()} caught per {scenario.period}",
                    f"{point['caught']:,.0f}")
    cards[1].metric(f"{plural(scenario.positive).capitalize()} missed", f"{point['missed']:,.0f}")
    cards[2].metric(f"{plural(scenario.action).capitalize()} per {scenario.period}", f"{point['actions']:,.0f}")
    cards[3].metric(f"Worth per {scenario.period}", money(point["value"], scenario.currency, signed=True))
    counts = present.icon_counts(outcomes, chosen)
    charting.show(charts.icon_array_chart(present.icon_frame(counts, positive=scenario.positive),
                                          positive=scenario.positive), width="content")
    state.sync_url()
    judged = widgets.verdicts(report, name, threshold=threshold)  # the rating, filled in when ready
    widgets.settle_threshold(threshold, state.chosen(report, name, wait=False))
    with rating_slot:
        _rating(judged, name, scenario.item)
        segment_slot = st.container()
    widgets.download("Download the full report (HTML, opens offline)",
                     functools.partial(html_report, judged.at({name: chosen}), name, threshold=chosen),
                     file_name="metricbridge_report.html", mime="text/html")
    source = state.current_source()
    worst = state.worst_segment(source, report, name, threshold.value) if source else None
    if worst:
        with segment_slot:
            st.markdown(f":red[**Not for everyone yet.**] {worst}")
            st.page_link(links.page("segments"), label="See every segment", icon=":material/splitscreen:")
