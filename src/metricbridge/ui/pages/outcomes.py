"""Outcomes: the scenario in the user's words, and what each threshold means per period."""

from __future__ import annotations

import math

import streamlit as st

from metricbridge import charts, views
from metricbridge.evaluate import EvaluationReport
from metricbridge.export import safe_csv
from metricbridge.narrative import money, number, outcome_sentence
from metricbridge.outcomes import value_parts
from metricbridge.scenario import Scenario
from metricbridge.ui import charting, guard, scenario_editor, state, widgets

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


def _charts(report: EvaluationReport, scenario: Scenario, name: str, threshold: float, slots, bands) -> None:
    thinned, best = state.view(views.outcome_curve, report, name), report.outcomes[name].best_threshold

    def outcome(figure: str, title: str, band=None) -> charts.Chart:
        return charts.outcomes_chart(thinned, threshold=threshold, best=best, capacity=scenario.capacity,
                                     figure=figure, title=title, bands=band)

    charting.show(outcome("value", f"Value per {scenario.period}", bands), slots[0])
    charting.show(charts.breakdown_chart(value_parts(report.model(name).curve, scenario, threshold),
                                         currency=scenario.currency), slots[1])
    charting.show(outcome("caught", f"{scenario.positive.capitalize()}s caught per {scenario.period}"), slots[2])
    charting.show(outcome("actions", f"{scenario.action.capitalize()}s per {scenario.period}"), slots[3])


@guard.fragment
def _at_threshold(report: EvaluationReport, scenario: Scenario, name: str) -> None:
    """What follows the threshold: a slider move reruns only this."""
    outcomes = report.outcomes[name]
    threshold = widgets.threshold_control(report, name)
    state.sync_url()
    point = outcomes.at(threshold.value)
    _cards(point, scenario, float(outcomes.precision[outcomes.index_at(threshold.value)]))
    st.markdown(outcome_sentence(point, scenario))
    best = outcomes.best_threshold
    best_text = "flagging nothing" if best is None else f"threshold **{best:.4g}**"
    st.markdown(f"Best within capacity: {best_text}, worth "
                f"**{money(float(outcomes.value[outcomes.best_index]), scenario.currency, signed=True)}** "
                f"per {scenario.period}.")
    made = widgets.chosen(report, name) if state.verdicts_ready(report, name) else None
    rows = st.columns(2), st.columns(2)
    slots = tuple(column.empty() for row in rows for column in row)
    _charts(report, scenario, name, threshold.value, slots,
            state.bands(made, figures=("value",)))
    if made is None and state.current_agreement() is not None:  # the value band, once the bootstrap is done
        made = widgets.chosen(report, name)
        widgets.settle_threshold(threshold, made)
        if made is not None:
            _charts(report, scenario, name, threshold.value, slots, state.bands(made, figures=("value",)))


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
    name = widgets.pick_model(report)
    _at_threshold(report, report.scenario, name)
    outcomes = report.outcomes[name]
    widgets.download("Outcomes at every threshold (CSV)", lambda: safe_csv(outcomes.to_frame()),
                     file_name=f"{name}_outcomes.csv", mime="text/csv")
    with st.expander("How these figures are computed"):
        st.markdown(_HOW.format(s=scenario, period=scenario.period))
