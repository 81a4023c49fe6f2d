"""Scenario files: the presets load, every bad field is refused with its name and line, YAML round-trips."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.errors import ScenarioError
from metricbridge.evaluate import evaluate_file
from metricbridge.outcomes import outcomes_at_rates, outcomes_for_curve
from metricbridge.scenario import PERIODS, load_scenario, parse_scenario, scenario_to_yaml

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
DATA = SCENARIOS.parent
PRESETS = ["fraud_review", "ticket_triage", "medical_screening", "churn_retention", "content_moderation",
           "lead_scoring"]

GOOD = """\
name: Fraud review queue
item: transaction
positive: fraud
action: manual review
period: day
volume: 20000
prevalence: 0.008
capacity: 300
minutes_per_action: 6
cost_per_hour: 40
currency: USD
value:
  caught: {column: amount, times: 0.9}
  missed: 0
  false_alarm: -5
  left_alone: 0
status_quo:
  - name: Amount rule
    column: rule_flag
  - name: Review everything
    recall: 0.9
    false_alarm_rate: 0.02
    effort_share: 1.0
    minutes_per_action: 3
"""


def test_the_issue_example_reads_every_field():
    scenario = load_scenario("s.yaml", text=GOOD)
    assert scenario.volume == 20000 and scenario.prevalence == 0.008 and scenario.capacity == 300
    assert scenario.effort_cost == pytest.approx(4.0)
    assert scenario.item_value("caught").column == "amount" and scenario.item_value("caught").times == 0.9
    assert scenario.item_value("false_alarm").constant == -5
    assert scenario.value_columns == ("amount",) and scenario.status_quo_columns == ("rule_flag",)
    assert scenario.status_quo_named("Review everything").effort_share == 1.0


def test_defaults_fill_what_is_left_out():
    scenario = load_scenario("s.yaml", text="volume: 10\nvalue: {caught: 1}\n")
    assert (scenario.item, scenario.positive, scenario.action, scenario.period) == (
        "item", "positive", "action", "day")
    assert scenario.prevalence is None and scenario.capacity is None and scenario.status_quo == ()
    assert scenario.item_value("missed").constant == 0


def test_yaml_round_trips():
    scenario = load_scenario("s.yaml", text=GOOD)
    assert load_scenario("again.yaml", text=scenario_to_yaml(scenario)) == scenario


@pytest.mark.parametrize("text, fragments", [
    ("volume: -3\nvalue: {}\n", ["line 1", "volume", "at least 0"]),
    ("value: {}\n", ["volume", "is required"]),
    ("volume: 3\n", ["value", "is required"]),
    ("volume: 3\nvalue:\n  caught: lots\n", ["line 3", "value.caught", "'lots'"]),
    ("volume: 3\nvalue: {}\nperiod: fortnight\n", ["line 3", "period", ", ".join(PERIODS), "'fortnight'"]),
    ("volume: 3\nvalue: {}\nprevalence: 1.5\n", ["line 3", "prevalence", "between 0 and 1"]),
    ("volume: 3\nvalue: {}\nprevalence: 0\n", ["prevalence", "between 0 and 1"]),
    ("volume: 3\nvalue: {}\nvolumes: 4\n", ["line 3", "unknown field 'volumes'"]),
    ("volume: 3\nvalue: {caught: 1, catch: 2}\n", ["value.catch", "unknown field"]),
    ("volume: ten\nvalue: {}\n", ["line 1", "volume", "must be a number"]),
    ("volume: 3\nvalue: {}\ncapacity: true\n", ["capacity", "must be a number"]),
    ("volume: 3\nvalue: {}\nitem: no\n", ["line 3", "item", "quote it"]),
    ("volume: 3\nvalue: {}\nstatus_quo:\n  - name: A\n    recall: 0.3\n",
     ["line 4", "status_quo[0]", "both recall and false_alarm_rate"]),
    ("volume: 3\nvalue: {}\nstatus_quo:\n  - recall: 0.3\n    false_alarm_rate: 0.1\n", ["status_quo[0].name"]),
    ("volume: 3\nvalue: {}\nstatus_quo:\n  - name: A\n    recall: 1.3\n    false_alarm_rate: 0\n",
     ["line 5", "status_quo[0].recall", "at most 1"]),
    ("volume: 3\nvalue: {}\nstatus_quo:\n  - name: A\n    column: r\n    recall: 0.3\n", ["not both"]),
    ("volume: 3\nvalue: {}\nstatus_quo: {name: A}\n", ["status_quo", "must be a list"]),
    ("volume: [3\n", ["not valid YAML"]),
    ("", ["is empty"]),
    ("volume: 1e6\nvalue: {}\n", ["line 1", "volume", "'1e6'", "1.0e+6"]),
    ("volume: 1.0e+13\nvalue: {}\n", ["line 1", "volume", "above the limit of 1e+12 (limits.volume)"]),
    ("volume: ~\nvalue: {}\n", ["line 1", "volume", "is empty"]),
    ("volume: 3\nvalue: {false_alarm: -1.0e+13}\n", ["line 2", "value.false_alarm", "below the limit of -1e+12"]),
    ("volume: 3\nvalue: {caught: {column: amount, times: .inf}}\n", ["value.caught.times", "finite number"]),
    ("volume: 3\nvalue: {}\ncost_per_hour: 1.0e+300\n", ["line 3", "cost_per_hour", "limits.money"]),
    ("volume: 3\nvalue: {}\nminutes_per_action: 1.0e+7\n", ["line 3", "minutes_per_action", "limits.minutes"]),
    ("volume: 3\nvalue: {}\ncapacity: 1.0e+13\n", ["line 3", "capacity", "leave capacity out"]),
    ("volume: 3\nvalue: {}\nstatus_quo:\n  - {name: A, recall: 0.3, false_alarm_rate: 0, effort_share: -1}\n",
     ["line 4", "status_quo[0].effort_share", "at least 0"]),
    ("volume: 3\nvalue: {}\nvolume: 4\n", ["line 3", "volume", "appears twice (lines 1 and 3)"]),
    ("- volume: 3\n", ["line 1", "the scenario", "not a list"]),
    ("volume: 3\nvalue: {}\n1: 2\n", ["line 3", "a key that is not text (a number: 1)"]),
    ("volume: &v [3, *v]\nvalue: {}\n", ["line 1", "volume[1]", "*v", "without end"]),
    ("# nothing\n", ["holds only comments"]),
])
def test_bad_fields_are_refused_by_name_and_line(text, fragments):
    with pytest.raises(ScenarioError) as raised:
        load_scenario("bad.yaml", text=text)
    message = str(raised.value)
    assert message.startswith("bad.yaml")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_load_and_every_number_has_a_comment(preset):
    path = SCENARIOS / f"{preset}.yaml"
    scenario = load_scenario(path)
    assert scenario.status_quo and all(sq.column is None for sq in scenario.status_quo)  # rates only
    for line in path.read_text().splitlines():
        if re.match(r"^\s*-?\s*\w+:\s*-?[\d.]+\s*(#|$)", line):  # a number given as a field's value
            assert "#" in line, f"{preset}: {line!r} has no comment saying where the figure comes from"


def test_a_status_quo_column_missing_from_the_data_is_named():
    scenario = parse_scenario({"volume": 10, "value": {"caught": 1},
                               "status_quo": [{"name": "Rule", "column": "no_such_rule"}]})
    with pytest.raises(ScenarioError, match=r"status_quo\[0\] \('Rule'\) names column 'no_such_rule'"):
        evaluate_file(DATA / "fraud_transactions.parquet", scenario=scenario)


@pytest.mark.parametrize("data, preset", [("fraud_transactions", "demo_fraud"), ("support_tickets", "demo_tickets")])
def test_each_demo_sets_best_threshold_is_neither_flag_all_nor_nothing(data, preset):
    report = evaluate_file(DATA / f"{data}.parquet", scenario=load_scenario(SCENARIOS / f"{preset}.yaml"))
    for model in report.models:
        outcomes = report.outcomes[model.name]
        assert 0 < outcomes.best_index < len(outcomes.thresholds) - 1, model.name
    assert any(sq.entry.column for sq in report.status_quo)


def test_the_screening_preset_is_net_benefit():
    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.2).astype(int)
    s = np.clip(rng.normal(0.2 + 0.3 * y, 0.15), 0, 1).round(3)
    scenario = load_scenario(SCENARIOS / "medical_screening.yaml")
    curve = curve_from_counts(counts_from_arrays(y, s))
    outcomes = outcomes_for_curve(curve, scenario)
    for t in (0.1, 0.2, 0.35, 0.5):
        flagged = s >= t
        tp, fp, n = (flagged & (y == 1)).sum(), (flagged & (y == 0)).sum(), len(y)
        assert outcomes.at(t)["value"] == pytest.approx(tp / n - fp / n * 0.1 / 0.9, abs=1e-12)
    treat_all = outcomes_at_rates(scenario.status_quo_named("Treat all"), scenario, reference=curve).point(0)
    assert treat_all["value"] == pytest.approx(y.mean() - (1 - y.mean()) / 9, abs=1e-12)


def test_a_scenario_without_value_columns_round_trips_its_skeleton():
    scenario = load_scenario(SCENARIOS / "fraud_review.yaml")
    skeleton = scenario.skeleton()
    assert skeleton.value_columns == () and skeleton.status_quo == ()
    assert load_scenario("s.yaml", text=scenario_to_yaml(skeleton)) == skeleton
