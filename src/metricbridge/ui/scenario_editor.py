"""The scenario, chosen from a preset or a file and edited in the user's words."""

from __future__ import annotations

import functools

import streamlit as st

from metricbridge.errors import MetricBridgeError
from metricbridge.scenario import OUTCOME_VALUES, PERIODS, ItemValue, Scenario, load_scenario, scenario_to_yaml
from metricbridge.ui import state, widgets

_VALUE_WORDS = {"caught": "a {positive} caught", "missed": "a {positive} missed",
                "false_alarm": "a false alarm", "left_alone": "an item correctly left alone"}


def picker() -> None:
    """Preset list and YAML upload; choosing one replaces the scenario being edited."""
    presets = state.presets()
    left, right = st.columns([3, 2])
    choice = left.selectbox("Start from a ready scenario", ["(keep the current one)", *presets],
                            key="scenario_preset")
    if choice in presets and st.session_state.get("scenario_preset_loaded") != choice:
        st.session_state["scenario_preset_loaded"] = choice
        state.set_scenario(load_scenario(presets[choice]), replace_editor=True)
        st.session_state[state.PRESET] = presets[choice].stem
    uploaded = right.file_uploader("…or load a scenario file (YAML)", type=["yaml", "yml"], key="scenario_file")
    if uploaded is not None and st.session_state.get("scenario_file_loaded") != uploaded.file_id:
        st.session_state["scenario_file_loaded"] = uploaded.file_id
        try:
            state.set_scenario(load_scenario(uploaded.name, text=uploaded.getvalue().decode("utf-8", "replace")),
                               replace_editor=True)
            st.session_state[state.PRESET] = None  # a file of the user's own is not in a link
        except MetricBridgeError as error:
            st.error(str(error))


def _value_input(column, outcome: str, spec: ItemValue, scenario: Scenario, key: str) -> dict | float:
    words = _VALUE_WORDS[outcome].format(positive=scenario.positive)
    if spec.column:
        times = column.number_input(f"Worth of {words}: × {spec.column}", value=float(spec.times), key=key,
                                    help=f"Each item is worth this many times its {spec.column!r} value")
        return {"column": spec.column, "times": times}
    return column.number_input(f"Worth of {words}", value=float(spec.constant), key=key,
                               help="Signed: gains positive, costs negative")


def editor(scenario: Scenario) -> Scenario:
    """Widgets for every field; returns the edited scenario (or the last valid one, after an error)."""
    key = f"sc{st.session_state[state.EDITS]}_"
    with st.expander(f"Scenario: {scenario.name}", expanded=False):
        a, b, c, d = st.columns(4)
        words = {"name": a.text_input("Name", scenario.name, key=key + "name"),
                 "item": b.text_input("One row is a…", scenario.item, key=key + "item"),
                 "positive": c.text_input("The model looks for a…", scenario.positive, key=key + "positive"),
                 "action": d.text_input("A flagged item gets a…", scenario.action, key=key + "action")}
        a, b, c, d = st.columns(4)
        period = a.selectbox("Per", PERIODS, index=PERIODS.index(scenario.period), key=key + "period")
        volume = b.number_input(f"{scenario.item.capitalize()}s per {period}", min_value=0.0,
                                value=float(scenario.volume), key=key + "volume")
        capacity_on = c.checkbox("Capacity limit", value=scenario.capacity is not None, key=key + "capacity_on")
        capacity = c.number_input(f"Most {scenario.action}s per {period}", min_value=0.0,
                                  value=float(scenario.capacity or 0.0), key=key + "capacity",
                                  disabled=not capacity_on)
        prevalence_on = d.checkbox("Set the prevalence", value=scenario.prevalence is not None,
                                   key=key + "prevalence_on", help="Otherwise the data's share of positives")
        prevalence = d.number_input("Share of positives in deployment", min_value=0.000001, max_value=0.999999,
                                    value=float(scenario.prevalence or 0.01), format="%.6f",
                                    key=key + "prevalence", disabled=not prevalence_on)
        a, b, c = st.columns(3)
        minutes = a.number_input(f"Minutes per {scenario.action}", min_value=0.0,
                                 value=float(scenario.minutes_per_action), key=key + "minutes")
        cost = b.number_input("Cost per hour of that work", min_value=0.0, value=float(scenario.cost_per_hour),
                              key=key + "cost")
        currency = c.text_input("Currency", scenario.currency or "", key=key + "currency")
        columns = st.columns(4)
        values = {outcome: _value_input(column, outcome, scenario.item_value(outcome), scenario, key + outcome)
                  for column, outcome in zip(columns, OUTCOME_VALUES, strict=True)}
        try:
            edited = scenario.with_changes(
                **words, period=period, volume=volume, capacity=capacity if capacity_on else None,
                prevalence=prevalence if prevalence_on else None, minutes_per_action=minutes,
                cost_per_hour=cost, currency=currency or None, value=values)
        except MetricBridgeError as error:
            st.error(str(error))
            return scenario
        widgets.download("Download this scenario (YAML)", functools.partial(scenario_to_yaml, edited),
                         file_name=f"{edited.name.lower().replace(' ', '_')[:40] or 'scenario'}.yaml",
                         mime="application/x-yaml")
    return edited
