"""Criteria files: every entry checked and refused by name; versions and differences."""

from __future__ import annotations

import datetime as dt

import pytest

from metricbridge.criteria import criteria_to_yaml, differences, load_criteria, next_version
from metricbridge.errors import CriteriaError
from metricbridge.scenario import load_scenario
from tests.test_scenario import GOOD as SCENARIO_TEXT

EXAMPLE = """\
name: Fraud pilot go/no-go
version: 2
agreed_by: [Head of Fraud Operations, Data science lead]
agreed_on: 2026-11-20
note: Pilot if it beats the amount rule on caught fraud within the review team's capacity.
confidence: 0.9
objective: maximize value
criteria:
  - {metric: recall, at_least: 0.8}
  - {metric: actions, at_most: 300}
  - {metric: caught, at_least: 1.2, relative_to: Amount rule}
  - {metric: value, at_least: 10000}
"""


def test_the_issue_example_reads_every_field():
    criteria = load_criteria("c.yaml", text=EXAMPLE)
    assert (criteria.name, criteria.version, criteria.confidence) == ("Fraud pilot go/no-go", 2, 0.9)
    assert criteria.agreed_by == ("Head of Fraud Operations", "Data science lead")
    assert criteria.agreed_on == dt.date(2026, 11, 20) and criteria.objective == ("maximize", "value")
    kinds = [(c.metric, c.comparison, c.bound, c.relative_to, c.kind) for c in criteria.criteria]
    assert kinds == [("recall", "at_least", 0.8, None, "test_set"), ("actions", "at_most", 300, None, "outcome"),
                     ("caught", "at_least", 1.2, "Amount rule", "outcome"), ("value", "at_least", 10000, None,
                                                                             "outcome")]
    criteria.check(load_scenario("s.yaml", text=SCENARIO_TEXT))
    assert load_criteria("again.yaml", text=criteria_to_yaml(criteria)) == criteria


def test_defaults_for_confidence_and_objective():
    criteria = load_criteria("c.yaml", text="name: x\nversion: 1\ncriteria:\n  - {metric: roc_auc, at_least: 0.8}\n")
    assert criteria.confidence == 0.9 and criteria.objective is None
    assert criteria.objective_for(None) == ("maximize", "f1")
    assert criteria.objective_for(load_scenario("s.yaml", text=SCENARIO_TEXT)) == ("maximize", "value")


HEAD = "name: x\nversion: 1\n"


@pytest.mark.parametrize("text, fragments", [
    (HEAD + "criteria:\n  - {metric: recal, at_least: 0.8}\n", ["line 4", "criteria[0].metric", "'recal'"]),
    (HEAD + "criteria:\n  - {metric: recall}\n", ["criteria[0]", "exactly one bound"]),
    (HEAD + "criteria:\n  - {metric: recall, at_least: 0.8, at_most: 0.9}\n", ["exactly one bound"]),
    (HEAD + "criteria:\n  - {metric: recall, at_least: 0.8, relative_to: Rule}\n",
     ["criteria[0].relative_to", "outcome metrics only"]),
    (HEAD + "criteria:\n  - {metric: recall, at_least: high}\n", ["criteria[0].at_least", "must be a number"]),
    (HEAD + "criteria:\n  - {metric: recall, at_lest: 0.8}\n", ["unknown field 'at_lest'"]),
    (HEAD + "confidence: 0.5\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["confidence", "above 0.5"]),
    (HEAD + "confidence: 1\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["confidence", "below 1"]),
    (HEAD + "objective: maximize roc_auc\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["objective"]),
    (HEAD + "criteria: []\n", ["criteria", "must be a list"]),
    ("name: x\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["version", "is required"]),
    ("name: x\nversion: two\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["version", "whole number"]),
    (HEAD + "agreed_on: someday\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["agreed_on", "a date"]),
    (HEAD + "owner: me\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["unknown field 'owner'"]),
    (HEAD + "agreed_on: 2026-02-30\ncriteria:\n  - {metric: recall, at_least: 0.8}\n",
     ["line 3", "agreed_on", "'2026-02-30'", "no day of the calendar"]),
    (HEAD + "agreed_on: 30.11.2026\ncriteria:\n  - {metric: recall, at_least: 0.8}\n",
     ["line 3", "agreed_on", "year-month-day"]),
    ("name: x\nversion: 1000000000\ncriteria:\n  - {metric: recall, at_least: 0.8}\n",
     ["line 2", "version", "above the limit of 999,999,999"]),
    (HEAD + "criteria:\n  - {metric: value, at_least: .inf}\n", ["line 4", "criteria[0].at_least", "finite number"]),
    (HEAD + "criteria:\n  - {metric: value, at_least: 1e4}\n", ["criteria[0].at_least", "'1e4'", "1.0e+6"]),
    (HEAD + "confidence: .nan\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["line 3", "confidence", "finite"]),
    (HEAD + "name: y\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["line 3", "name", "lines 1 and 3"]),
    (HEAD + "agreed_by: {a: b}\ncriteria:\n  - {metric: recall, at_least: 0.8}\n", ["agreed_by", "not a mapping"]),
    ("[name, version]\n", ["the criteria", "not a list"]),
])
def test_bad_entries_are_refused_by_name(text, fragments):
    with pytest.raises(CriteriaError) as raised:
        load_criteria("bad.yaml", text=text)
    assert str(raised.value).startswith("bad.yaml")
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_one_person_and_a_date_with_a_time_are_read():
    criteria = load_criteria("c.yaml", text="name: x\nversion: 1\nagreed_by: Head of Fraud\n"
                             "agreed_on: 2026-11-20 10:30:00\ncriteria:\n  - {metric: roc_auc, at_least: 0.8}\n")
    assert criteria.agreed_by == ("Head of Fraud",) and criteria.agreed_on == dt.date(2026, 11, 20)


def test_outcome_metrics_need_a_scenario_and_relative_to_a_known_status_quo():
    criteria = load_criteria("c.yaml", text=EXAMPLE)
    with pytest.raises(CriteriaError, match=r"criteria\[1\].*actions.*needs a scenario"):
        criteria.check(None)
    other = load_criteria("c.yaml", text=EXAMPLE.replace("relative_to: Amount rule", "relative_to: Old rule"))
    with pytest.raises(CriteriaError, match=r"criteria\[2\].*'Old rule'.*Amount rule, Review everything"):
        other.check(load_scenario("s.yaml", text=SCENARIO_TEXT))


def test_next_version_and_the_differences_between_versions():
    first = load_criteria("c.yaml", text=EXAMPLE)
    edited = load_criteria("c.yaml", text=EXAMPLE.replace("at_least: 0.8}", "at_least: 0.75}"))
    second = next_version(edited, started_from=first, agreed_by=("Head of Fraud Operations",),
                          today=dt.date(2026, 11, 27))
    assert (second.version, second.agreed_on, second.agreed_by) == (3, dt.date(2026, 11, 27),
                                                                    ("Head of Fraud Operations",))
    assert differences(first, second) == ["removed: recall at least 0.8", "added: recall at least 0.75"]
