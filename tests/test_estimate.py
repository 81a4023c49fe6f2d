"""Estimates without labels: expected counts against the sums they stand for, intervals against simulated
windows whose truth is known, and the calibration check against a loop over raw rows."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.errors import InputError
from metricbridge.estimate import (
    calibration_check,
    estimate_interval,
    estimate_window,
    expected_counts,
)
from metricbridge.outcomes import outcomes_for_curve
from metricbridge.scenario import ItemValue, Scenario
from tests.conftest import predictions

THRESHOLDS = (0.0, 0.2, 0.5, 0.75, 1.0, 1.5)


def _unlabelled(scores, weights=None, **kwargs):
    """A window counted before its labels arrived: every label 0."""
    return counts_from_arrays(np.zeros(len(scores), dtype=np.int64), scores, sample_weight=weights, **kwargs)


def _expected_by_rows(scores: np.ndarray, weights: np.ndarray, threshold: float) -> dict[str, float]:
    """The expected confusion counts of labels drawn Bernoulli(score), summed over the raw rows."""
    flagged = scores >= threshold
    return {"tp": float(np.sum((weights * scores)[flagged])), "fp": float(np.sum((weights * (1 - scores))[flagged])),
            "fn": float(np.sum((weights * scores)[~flagged])), "tn": float(np.sum((weights * (1 - scores))[~flagged]))}


@given(predictions())
@settings(max_examples=60, deadline=None)
def test_expected_counts_are_the_expected_confusion_counts(data):
    labels, scores, weights = data  # the labels are ignored: a window's are unknown
    window = counts_from_arrays(labels, scores, sample_weight=weights, mode="exact")
    expected = expected_counts(window)
    unit = np.ones(len(scores)) if weights is None else weights
    curve = curve_from_counts(expected)
    for threshold in THRESHOLDS:
        point, truth = curve.at(threshold), _expected_by_rows(scores, unit, threshold)
        for name in ("tp", "fp", "fn", "tn"):
            assert point[name] == pytest.approx(truth[name], rel=1e-9, abs=1e-9)
    assert expected.n == pytest.approx(window.n) and expected.n_rows == window.n_rows
    assert expected.prevalence == pytest.approx(np.sum(unit * scores) / unit.sum())


def test_expected_counts_are_exact_in_binned_mode_at_a_bin_edge():
    rng = np.random.default_rng(1)
    scores, weights = rng.beta(2, 5, 50_000), rng.uniform(0.5, 3.0, 50_000)
    window = _unlabelled(scores, weights, mode="binned", bins=200, edges_at=[0.5])
    point = curve_from_counts(expected_counts(window)).at(0.5)
    truth = _expected_by_rows(scores, weights, 0.5)
    assert {name: point[name] for name in truth} == pytest.approx(truth, rel=1e-9)


def test_expected_counts_are_the_mean_of_labels_drawn_bernoulli_of_the_score():
    rng = np.random.default_rng(2)
    scores = np.round(rng.random(300), 2)
    draws = (rng.random((4000, 300)) < scores).astype(np.float64)  # 4,000 windows of labels
    flagged = scores >= 0.5
    point = curve_from_counts(expected_counts(_unlabelled(scores))).at(0.5)
    for name, values in {"tp": draws[:, flagged].sum(1), "fp": (1 - draws[:, flagged]).sum(1)}.items():
        assert point[name] == pytest.approx(values.mean(), abs=4 * values.std() / np.sqrt(len(values)))


def test_expected_counts_keep_keys_and_split_value_sums_by_the_score():
    scores = np.array([0.1, 0.1, 0.4, 0.8, 0.8, 0.8])
    window_of = np.array([1, 2, 1, 1, 2, 2])
    amounts = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    counts = _unlabelled(scores, keys={"window": window_of}, sums={"amount": amounts})
    expected = expected_counts(counts)
    assert np.all(np.diff(expected.scores) >= 0)  # the builders' order
    second = expected.select(expected.keys["window"] == 2)
    alone = expected_counts(counts.select(counts.keys["window"] == 2))
    for name in ("scores", "labels", "weights"):
        assert np.allclose(getattr(second, name), getattr(alone, name))
    positive = expected.labels == 1
    assert expected.sums["amount"][positive].sum() == pytest.approx(np.sum(amounts * scores))
    assert expected.sums["amount"].sum() == pytest.approx(amounts.sum())


def test_the_outcomes_pipeline_runs_unchanged_on_expected_counts():
    rng = np.random.default_rng(3)
    scores = rng.beta(2, 5, 2000)
    curve = curve_from_counts(expected_counts(_unlabelled(scores)))
    scenario = Scenario(volume=1000, prevalence=None, minutes_per_action=6, cost_per_hour=40, capacity=None,
                        value={"caught": ItemValue(constant=100), "missed": ItemValue(constant=-50),
                               "false_alarm": ItemValue(constant=-5), "left_alone": ItemValue(constant=0)})
    truth = _expected_by_rows(scores, np.ones(2000), 0.4)
    # the deployment prevalence defaults to the window's: the expected share of positives, the mean score
    caught = 1000 * scores.mean() * truth["tp"] / scores.sum()
    assert outcomes_for_curve(curve, scenario).at(0.4)["caught"] == pytest.approx(caught, rel=1e-9)


def _coverage(windows: int, *, resample_rows: bool, items: int = 2000, threshold: float = 0.5) -> dict[str, float]:
    """The share of simulated windows whose realised recall and precision fall in their 90% interval:
    Beta(2, 4) scores at two decimals, labels drawn Bernoulli(score), so the scores are calibrated."""
    hits = {"recall": 0, "precision": 0}
    for k in range(windows):
        rng = np.random.default_rng([11, k])
        scores = np.round(rng.beta(2, 4, items), 2)
        labels = (rng.random(items) < scores).astype(np.int64)
        realised = curve_from_counts(counts_from_arrays(labels, scores, mode="exact")).at(threshold)
        intervals = estimate_interval(_unlabelled(scores, mode="exact"), threshold, metrics=tuple(hits),
                                      resamples=1000, seed=k, resample_rows=resample_rows)
        for name in hits:
            _, low, high = intervals[name]
            hits[name] += low <= realised[name] <= high
    return {name: count / windows for name, count in hits.items()}


def test_the_interval_covers_the_realised_figure_as_often_as_it_says():
    start = time.perf_counter()
    coverage = _coverage(200, resample_rows=False)
    seconds = time.perf_counter() - start
    print(f"90% intervals over 200 windows: coverage {coverage} in {seconds:.1f} s")
    assert 0.85 <= coverage["recall"] <= 0.95
    assert 0.85 <= coverage["precision"] <= 0.95
    assert seconds < 20


def test_resampling_rows_too_gives_the_wider_sampling_error():
    rng = np.random.default_rng(4)
    window = _unlabelled(np.round(rng.beta(2, 4, 2000), 2))
    labels_only = estimate_interval(window, 0.5, metrics=("recall",))["recall"]
    with_rows = estimate_interval(window, 0.5, metrics=("recall",), resample_rows=True)["recall"]
    assert labels_only[0] == with_rows[0]  # the same estimate
    assert with_rows[2] - with_rows[1] > 1.2 * (labels_only[2] - labels_only[1])


def test_intervals_are_seeded_and_bracket_the_estimate():
    rng = np.random.default_rng(5)
    window = _unlabelled(rng.beta(2, 5, 3000), rng.uniform(1, 2, 3000))
    first, again = estimate_interval(window, 0.4, seed=3), estimate_interval(window, 0.4, seed=3)
    assert first == again
    assert set(first) == {"recall", "precision", "flag_rate", "tp", "fp", "fn"}
    for name, (estimate, low, high) in first.items():
        assert low - 1e-12 <= estimate <= high + 1e-12, name
    flag_rate = first["flag_rate"]
    assert flag_rate[1] == flag_rate[2]  # the items are known: who is flagged does not vary


def test_binned_windows_estimate_nearly_what_exact_ones_do():
    rng = np.random.default_rng(6)
    scores = rng.beta(2, 5, 100_000)
    exact = estimate_interval(_unlabelled(scores, mode="exact"), 0.5, metrics=("recall", "precision"),
                              resamples=200)
    binned = estimate_interval(_unlabelled(scores, mode="binned", edges_at=[0.5]), 0.5,
                               metrics=("recall", "precision"), resamples=200)
    for name in ("recall", "precision"):
        assert binned[name][0] == pytest.approx(exact[name][0], rel=1e-9)  # score sums are exact
        assert binned[name][2] - binned[name][1] == pytest.approx(exact[name][2] - exact[name][1], rel=0.25)


def _ece_by_rows(labels: np.ndarray, scores: np.ndarray, bins: int) -> float:
    """Expected calibration error over equal-width bins (low, high], the first closed, one row at a time."""
    total = 0.0
    edges = np.linspace(0, 1, bins + 1)
    for index, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        inside = (scores <= high) & ((scores > low) | (index == 0))
        if inside.any():
            total += inside.sum() * abs(labels[inside].mean() - scores[inside].mean())
    return total / len(scores)


@pytest.mark.parametrize("bins", [5, 10, 20])
def test_calibration_check_is_the_expected_calibration_error(bins):
    rng = np.random.default_rng(7)
    scores = rng.random(5000)
    labels = (rng.random(5000) < scores).astype(np.int64)
    check = calibration_check(counts_from_arrays(labels, scores, mode="exact"), bins=bins)
    assert check.ece == pytest.approx(_ece_by_rows(labels, scores, bins), rel=1e-9)
    assert check.verdict == "good" and check.ece < 0.03


def test_a_miscalibrated_reference_makes_the_estimate_unreliable():
    rng = np.random.default_rng(8)
    scores = rng.random(20_000)
    labels = (rng.random(20_000) < scores).astype(np.int64)
    window = _unlabelled(rng.random(5000))
    calibrated = estimate_window(counts_from_arrays(labels, scores), window, 0.5, resamples=200)
    assert calibrated.reliable and calibrated.warning is None
    assert calibrated.assumption.startswith(
        f"assumes the scores are calibrated, as they were on the reference: ECE {calibrated.calibration.ece:.3f}")
    squared = estimate_window(counts_from_arrays(labels, scores ** 2), window, 0.5, resamples=200)
    assert squared.calibration.verdict == "poor" and squared.calibration.ece > 0.1
    assert not squared.reliable and "which they were not" in squared.assumption
    assert squared.warning is not None and "poorly calibrated" in squared.warning
    out = json.loads(json.dumps(squared.to_dict()))
    assert out["reliable"] is False and out["calibration"]["verdict"] == "poor"
    assert set(out["figures"]["recall"]) == {"estimate", "low", "high"}


NOT_PROBABILITIES = counts_from_arrays(np.array([0, 1, 0]), np.array([-2.0, 0.5, 3.0]))
EMPTY = _unlabelled(np.zeros(0))
WINDOW = _unlabelled(np.array([0.1, 0.5, 0.9]))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: expected_counts(NOT_PROBABILITIES), r"needs probability scores .* range from -2 to 3"),
    (lambda: estimate_interval(NOT_PROBABILITIES, 0.5), "needs probability scores"),
    (lambda: calibration_check(NOT_PROBABILITIES), "the reference's scores range"),
    (lambda: expected_counts(EMPTY), "the window has no items"),
    (lambda: estimate_interval(WINDOW, 0.5, metrics=("auc",)), "cannot estimate 'auc'"),
    (lambda: estimate_interval(WINDOW, 0.5, confidence=1.0), "confidence must be a share"),
    (lambda: estimate_interval(WINDOW, 0.5, resamples=0), "resamples must be a whole number"),
    (lambda: calibration_check(WINDOW, tolerance=-1), "tolerance must be a share"),
])
def test_bad_inputs_say_what_is_wrong(call, match):
    with pytest.raises(InputError, match=match):
        call()


@given(st.floats(0.0, 1.0), st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_flag_counts_are_the_window_s_own_at_any_threshold(threshold, seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(200), 2)
    intervals = estimate_interval(_unlabelled(scores), threshold, metrics=("flag_rate",), resamples=50)
    assert intervals["flag_rate"][0] == pytest.approx(np.mean(scores >= threshold))
