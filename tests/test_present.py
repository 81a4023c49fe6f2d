"""Stakeholder presentation: squares that add up, ratings from verdicts only, sentences from the figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.criteria import Criterion
from metricbridge.judge import Choice, CriteriaResult, Verdict
from metricbridge.outcomes import outcomes_for_curve
from metricbridge.present import (
    _largest_remainder,
    icon_counts,
    icon_frame,
    per_thousand,
    plain_verdict_line,
    rating,
    threshold_for_actions,
    verdict_line,
)
from metricbridge.scenario import Scenario
from tests.conftest import predictions


@given(st.lists(st.floats(0, 1e6), min_size=4, max_size=4).filter(lambda v: sum(v) > 0))
@settings(max_examples=200, deadline=None)
def test_largest_remainder_adds_up_and_stays_within_one_square(values):
    shares = dict(zip("abcd", values, strict=True))
    squares = _largest_remainder(shares, 1000)
    assert sum(squares.values()) == 1000
    total = sum(values)
    for key, value in shares.items():
        assert abs(squares[key] - value / total * 1000) < 1


@given(predictions(min_size=20), st.floats(0.001, 0.5))
@settings(max_examples=40, deadline=None)
def test_icon_counts_follow_the_outcomes_per_thousand(data, prevalence):
    y, s, w = data
    outcomes = outcomes_for_curve(curve_from_counts(counts_from_arrays(y, s, sample_weight=w)),
                                  Scenario(volume=12345, prevalence=prevalence))
    counts = icon_counts(outcomes, 0.5)
    exact = per_thousand(outcomes, 0.5)
    assert sum(counts.values()) == 1000
    assert exact["caught"] + exact["missed"] == pytest.approx(1000 * prevalence)
    assert all(abs(counts[k] - exact[k]) < 1 for k in counts)
    frame = icon_frame(counts, positive="fraud")
    assert len(frame) == 1000 and (frame["outcome"] == "fraud caught").sum() == counts["caught"]


def _result(*verdicts: str, labels: int | None = None) -> CriteriaResult:
    items = tuple(Verdict(criterion=Criterion(metric="recall", comparison="at_least", bound=0.8), target=0.8,
                          value=0.7, probability=0.5, verdict=v, labels_needed=labels if v == "uncertain" else None)
                  for v in verdicts)
    from metricbridge.criteria import Criteria

    criteria = Criteria(name="c", version=1, criteria=tuple(v.criterion for v in items))
    return CriteriaResult(criteria=criteria, threshold=0.5, choice=Choice(chosen=0.5, closest=0.5), verdicts=items,
                          intervals={}, differences={}, resamples=10, seed=0, bins=10)


@pytest.mark.parametrize("verdicts, label", [
    (("pass", "pass"), "Ready to pilot"), (("pass", "uncertain"), "Promising"), (("pass", "fail"), "Not yet"),
    (("uncertain", "fail"), "Not yet"),
])
def test_the_rating_comes_from_the_verdicts_only(verdicts, label):
    assert rating(_result(*verdicts)).label == label


def test_no_criteria_no_rating_but_a_prompt():
    result = rating(None)
    assert result.label is None and "agree" in result.explanation


def test_verdict_lines():
    result = _result("pass", "pass", "pass", "uncertain", labels=400)
    assert verdict_line(result) == ("Meets 3 of 4 agreed criteria; recall is uncertain: about 400 more labelled "
                                    "items would settle it.")
    assert plain_verdict_line(result, item="transaction") == (
        "Meets 3 of 4 agreed criteria; 1 is not yet certain: about 400 more checked transactions would settle it.")


def test_the_review_control_finds_the_threshold_with_that_workload():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.1).astype(int)
    outcomes = outcomes_for_curve(curve_from_counts(counts_from_arrays(y, rng.random(5000).round(3))),
                                  Scenario(volume=1000))
    threshold = threshold_for_actions(outcomes, 250.0)
    assert abs(outcomes.at(threshold)["actions"] - 250) <= np.min(np.abs(outcomes.actions[1:] - 250)) + 1e-9
