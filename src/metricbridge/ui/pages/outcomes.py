"""Outcomes: the scenario in the user's words, and what each threshold means per period."""

from __future__ import annotations

import math

import streamlit as st

from metricbridge import charts, views
from metricbridge.export import safe_csv
from metricbridge.narrative import money, number, outcome_sentence
from metricbridge.outcomes import value_parts
from metricbridge.scenario import Scenario
from metricbridge.ui import scenario_editor, state, widgets

_HOW = """
The evaluation data gives, at each threshold, the share of {s.positive}s the model flags (recall) and the
share of the others it flags by mistake (false-alarm rate). Per {period}, with the scenario's volume and
prevalence (the share of {s.positive}s in deployment):

- **caught** = volume × prevalence × recall; **missed** = volume × prevalence × (1 − recall)
- **false alarms** = volume × (1 − prevalence) × false-alarm rate; the rest are **correctly left alone**
- **{s.action}s** = caught + false alarms; **hours** = {s.action}s × minutes per {s.action} / 60
- **value** = each count × what one such item is worth, minus the hours × cost per hour
- **cost of errors** = what each miss and each false alarm cost against the right call
- a threshold whose {s.action}s exceed the capacity is out of reach (shaded); the best threshold is the one
  with the highest value within capacity (flagging nothing included)
"""


def _cards(point: dict, scenario: Scenario, precision: float) -> None:
    cards = st.columns([1, 1, 1, 1, 1.6])
    cards[0].metric(f"{scenario.positive.capitalize()}s caught", number(round(point["caught"], 1)),
                    help=f"Per {scenario.period}, at the deployment's volume and prevalence")
    cards[1].metric("Missed", number(round(point["missed"], 1)))
    cards[2].metric("False alarms", number(round(point["false_alarms"], 1)))
    cards[3].metric(f"{scenario.action.capitalize()}s", number(round(point["actions"], 1)),
                    help=f"{number(round(point['hours']))} hours; precision at deployment "
                         f"{'n/a' if math.isnan(precision) else f'{precision:.1%}'}")
    cards[4].metric(f"Value per {scenario.period}", money(point["value"], scenario.currency, signed=True),
                    help=f"Errors cost {money(point['cost_of_errors'], scenario.currency)}")


def render() -> None:
    st.title("Outcomes")
    state.init()
    if state.current_source() is None:
        widgets.loaded_report()
        return
    scenario_editor.picker()
    scenario = state.current_scenario()
    if scenario is None:
        st.info("Pick a ready scenario above (or load your own) to turn counts into outcomes.")
        return
    state.set_scenario(scenario_editor.editor(scenario))
    report = widgets.loaded_report()
    if report is None or report.scenario is None:
        return
    scenario = report.scenario
    report = report.at(widgets.threshold_control(report))
    state.sync_url()
    name = widgets.pick_model(report, key="outcomes_model")
    model, outcomes = report.model(name), report.outcomes[name]
    point = outcomes.at(model.threshold)
    _cards(point, scenario, float(outcomes.precision[outcomes.index_at(model.threshold)]))
    st.markdown(outcome_sentence(point, scenario))
    best = outcomes.best_index
    best_threshold = float(outcomes.thresholds[best])
    best_text = "flagging nothing" if not math.isfinite(best_threshold) else f"threshold **{best_threshold:.4g}**"
    st.markdown(f"Best within capacity: {best_text}, worth "
                f"**{money(float(outcomes.value[best]), scenario.currency, signed=True)}** per {scenario.period}.")
    thinned = views.outcome_curve(report, name)
    best_or_none = best_threshold if math.isfinite(best_threshold) else None
    bands = report.verdicts[name].bands if name in report.verdicts else None
    left, right = st.columns(2)
    left.altair_chart(charts.outcomes_chart(thinned, threshold=model.threshold, best=best_or_none,
                                            capacity=scenario.capacity, bands=bands,
                                            title=f"Value per {scenario.period}"), width="stretch")
    right.altair_chart(charts.breakdown_chart(value_parts(model.curve, scenario, model.threshold),
                                              currency=scenario.currency), width="stretch")
    left, right = st.columns(2)
    left.altair_chart(charts.outcomes_chart(thinned, threshold=model.threshold, best=best_or_none,
                                            capacity=scenario.capacity, figure="caught",
                                            title=f"{scenario.positive.capitalize()}s caught per {scenario.period}"),
                      width="stretch")
    right.altair_chart(charts.outcomes_chart(thinned, threshold=model.threshold, best=best_or_none,
                                             capacity=scenario.capacity, figure="actions",
                                             title=f"{scenario.action.capitalize()}s per {scenario.period}"),
                       width="stretch")
    st.download_button("Outcomes at every threshold (CSV)", safe_csv(outcomes.to_frame()),
                       file_name=f"{name}_outcomes.csv", mime="text/csv")
    with st.expander("How these figures are computed"):
        st.markdown(_HOW.format(s=scenario, period=scenario.period))
