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
    DEFAULT_CALIBRATION_TOLERANCE,
    calibration_check,
    estimate_interval,
    estimate_window,
    expected_counts,
)
from metricbridge.metrics import calibration_table
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
    Beta(2, 4) scores at two decimals, labels drawn Bernoulli(score), so the scores are calibrated; and, as
    ``refused``, the share of those labelled windows whose calibration check calls them poor."""
    hits = {"recall": 0, "precision": 0, "refused": 0}
    for k in range(windows):
        rng = np.random.default_rng([11, k])
        scores = np.round(rng.beta(2, 4, items), 2)
        labels = (rng.random(items) < scores).astype(np.int64)
        labelled = counts_from_arrays(labels, scores, mode="exact")
        realised = curve_from_counts(labelled).at(threshold)
        intervals = estimate_interval(_unlabelled(scores, mode="exact"), threshold, metrics=("recall", "precision"),
                                      resamples=1000, seed=k, resample_rows=resample_rows)
        for name in ("recall", "precision"):
            _, low, high = intervals[name]
            hits[name] += low <= realised[name] <= high
        hits["refused"] += not calibration_check(labelled, threshold=threshold).good
    return {name: count / windows for name, count in hits.items()}


def test_the_interval_covers_the_realised_figure_as_often_as_it_says():
    start = time.perf_counter()
    coverage = _coverage(200, resample_rows=False)
    seconds = time.perf_counter() - start
    print(f"90% intervals over 200 windows: coverage {coverage} in {seconds:.1f} s")
    assert 0.85 <= coverage["recall"] <= 0.95
    assert 0.85 <= coverage["precision"] <= 0.95
    assert coverage["refused"] == 0  # calibrated windows: the check never calls them poor
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
    assert check.verdict == "good" and check.ece < 0.03 and check.misplaced_share <= DEFAULT_CALIBRATION_TOLERANCE


def _beyond_chance_by_rows(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray,
                           groups: list[np.ndarray]) -> float:
    """Sum over groups of rows: |observed - expected positives| less 2 standard deviations of the observed count
    under calibration and 2 items of the group's mean weight, when positive; one group at a time."""
    total = 0.0
    for inside in groups:
        if not inside.any():
            continue
        w, s = weights[inside], scores[inside]
        gap = abs(np.sum(w * labels[inside]) - np.sum(w * s))
        allowance = 2 * np.sqrt(np.sum(w ** 2 * s * (1 - s))) + 2 * w.mean()
        total += max(gap - allowance, 0.0)
    return total


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("bins", "threshold"), [(10, None), (10, 0.35), (4, 0.6)])
def test_the_misplaced_positives_are_those_of_a_loop_over_rows(bins, threshold, weighted):
    rng = np.random.default_rng(9)
    truth = rng.random(4000)
    labels = (rng.random(4000) < truth).astype(np.int64)
    scores = np.round(truth ** 1.3, 3)  # somewhat miscalibrated: some bands are off beyond chance, not all
    weights = rng.uniform(0.5, 3.0, 4000) if weighted else np.ones(4000)
    check = calibration_check(counts_from_arrays(labels, scores, sample_weight=weights if weighted else None,
                                                 mode="exact"), bins=bins, threshold=threshold)
    edges = np.linspace(0, 1, bins + 1)
    bands = [(scores <= high) & ((scores > low) | (index == 0))
             for index, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True))]
    flagged = scores >= (threshold if threshold is not None else np.inf)
    by_rows = _beyond_chance_by_rows(labels, scores, weights, [band & side for band in bands
                                                                for side in (~flagged, flagged)])
    assert check.misplaced == pytest.approx(by_rows, rel=1e-9) and check.misplaced > 0
    assert check.expected == pytest.approx(np.sum(weights * scores), rel=1e-9)
    assert check.observed == pytest.approx(np.sum(weights * labels), rel=1e-9)
    larger = max(check.expected, check.observed)
    if threshold is None:
        assert check.misplaced_at_threshold is None and check.flagged_expected is None and check.recalls is None
        assert check.misplaced_share == pytest.approx(by_rows / larger, rel=1e-9)
    else:
        at_threshold = _beyond_chance_by_rows(labels, scores, weights, [~flagged, flagged])
        assert check.misplaced_at_threshold == pytest.approx(at_threshold, rel=1e-9)
        assert check.misplaced_share == pytest.approx(max(by_rows, at_threshold) / larger, rel=1e-9)
        assert check.flagged_observed == pytest.approx(np.sum((weights * labels)[flagged]), rel=1e-9)
        assert check.recalls == pytest.approx((np.sum((weights * scores)[flagged]) / check.expected,
                                               np.sum((weights * labels)[flagged]) / check.observed), rel=1e-9)


def test_binned_counts_check_calibration_as_exact_ones_do():
    rng = np.random.default_rng(10)
    scores = rng.beta(0.5, 8, 200_000)
    labels = (rng.random(200_000) < np.minimum(scores * 1.5, 1)).astype(np.int64)  # under-confident
    exact = calibration_check(counts_from_arrays(labels, scores, mode="exact"), threshold=0.3)
    binned_counts = counts_from_arrays(labels, scores, mode="binned", edges_at=[0.3])
    binned = calibration_check(binned_counts, threshold=0.3)
    table = calibration_table(binned_counts)
    assert binned.ece == pytest.approx(np.average(np.abs(table["observed_rate"] - table["mean_score"]),
                                                  weights=table["weight"]), rel=1e-9)
    for name in ("ece", "expected", "observed", "flagged_expected", "flagged_observed"):
        assert getattr(binned, name) == pytest.approx(getattr(exact, name), rel=1e-6), name
    # a bin's rows share its mean score, which overstates the spread a hair: the allowance is a little wider
    assert binned.misplaced_share == pytest.approx(exact.misplaced_share, rel=0.02)
    assert exact.verdict == binned.verdict == "poor"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def test_over_confident_scores_at_two_percent_are_flagged_though_their_ece_is_small():
    """Labels drawn from a true chance p (logit normal, 2.4% positives); the model's logit is twice the true
    one, shifted up (over-confident, too high on average): an absolute ECE below the customary 0.05, an
    estimate far from the realised recall, and the check calls the scores poor."""
    rng = np.random.default_rng(21)
    logit = rng.normal(-5.0, 1.8, 40_000)
    labels = (rng.random(40_000) < _sigmoid(logit)).astype(np.int64)
    scores = np.round(_sigmoid(2.0 * logit + 4.0), 4)
    reference = counts_from_arrays(labels[:20_000], scores[:20_000], mode="exact")
    assert 0.015 < reference.prevalence < 0.035
    window = _unlabelled(scores[20_000:], mode="exact")
    estimate = estimate_window(reference, window, 0.5, metrics=("recall",), resamples=300)
    check = estimate.calibration
    print(f"ECE {check.ece:.4f}, misplaced {check.misplaced_share:.1%}, recalls {check.recalls}")
    assert check.ece < 0.05  # an absolute tolerance of 0.05 passes these scores
    assert check.verdict == "poor" and check.misplaced_share > 3 * DEFAULT_CALIBRATION_TOLERANCE
    assert not estimate.reliable and estimate.warning is not None
    assert "poorly calibrated on the reference" in estimate.warning and "beyond chance" in estimate.warning
    realised = curve_from_counts(counts_from_arrays(labels[20_000:], scores[20_000:], mode="exact")).at(0.5)
    _, low, high = estimate.intervals["recall"]
    assert realised["recall"] < low - 0.05  # the estimate is wrong, as the check said
    # the same model, calibrated: not flagged, and its estimate holds
    calibrated = np.round(_sigmoid(logit), 4)
    fair = estimate_window(counts_from_arrays(labels[:20_000], calibrated[:20_000], mode="exact"),
                           _unlabelled(calibrated[20_000:], mode="exact"), 0.5, metrics=("recall",), resamples=300)
    assert fair.reliable and fair.warning is None
    realised = curve_from_counts(counts_from_arrays(labels[20_000:], calibrated[20_000:], mode="exact")).at(0.5)
    assert abs(fair.figures["recall"] - realised["recall"]) < 0.05


def test_small_calibrated_references_at_two_percent_are_not_refused_by_noise():
    """300 references of 1,000 items at about 2% positives (about 20 a reference), calibrated: none is called
    poor, though their raw gaps (no allowance for chance) would exceed the tolerance most of the time."""
    refused, raw_over = 0, 0
    for k in range(300):
        rng = np.random.default_rng([12, k])
        scores = np.round(rng.beta(0.3, 15, 1000), 4)
        labels = (rng.random(1000) < scores).astype(np.int64)
        check = calibration_check(counts_from_arrays(labels, scores, mode="exact"), threshold=0.1)
        refused += not check.good
        flagged = scores >= 0.1
        raw = sum(abs(np.sum(labels[side]) - np.sum(scores[side])) for side in (flagged, ~flagged))
        raw_over += raw / max(check.expected, check.observed) > DEFAULT_CALIBRATION_TOLERANCE
    assert refused == 0
    assert raw_over > 150


def test_a_miscalibrated_reference_makes_the_estimate_unreliable():
    rng = np.random.default_rng(8)
    scores = rng.random(20_000)
    labels = (rng.random(20_000) < scores).astype(np.int64)
    window = _unlabelled(rng.random(5000))
    calibrated = estimate_window(counts_from_arrays(labels, scores), window, 0.5, resamples=200)
    assert calibrated.reliable and calibrated.warning is None
    assert calibrated.assumption.startswith(
        "assumes the scores are calibrated (a score is the chance that its item is a positive), as they were on "
        f"the reference (off by {calibrated.calibration.misplaced_share:.0%} of its positives, within the tolerance "
        "of 10%)")
    squared = estimate_window(counts_from_arrays(labels, scores ** 2), window, 0.5, resamples=200)
    assert squared.calibration.verdict == "poor" and squared.calibration.misplaced_share > 0.2
    assert not squared.reliable and "which they were not on the reference" in squared.assumption
    assert squared.warning is not None and "poorly calibrated on the reference" in squared.warning
    # what the estimate would have said on the reference itself, and what its labels say
    predicted, observed = squared.calibration.recalls
    assert f"recall there would have been {predicted:.2f} where it was {observed:.2f}" in squared.warning
    assert observed == pytest.approx(np.mean(scores[labels == 1] ** 2 >= 0.5))  # the squared scores flag
    out = json.loads(json.dumps(squared.to_dict(), allow_nan=False))
    assert out["reliable"] is False and out["calibration"]["verdict"] == "poor"
    assert out["calibration"]["misplaced_share"] == pytest.approx(squared.calibration.misplaced_share)
    assert set(out["figures"]["recall"]) == {"estimate", "low", "high"}


def test_recent_windows_poorly_calibrated_flag_an_estimate_whose_reference_was_fine():
    """The scores were calibrated on the reference; in the latest labelled window the positives score lower
    (how scores relate to outcomes changed): the estimate is flagged, naming that window and by how much."""
    rng = np.random.default_rng(13)

    def labelled(size: int, *, changed: bool):
        scores = np.round(rng.beta(2, 5, size), 3)
        labels = (rng.random(size) < scores).astype(np.int64)
        if changed:  # the positives now score lower than their chance
            scores = np.where(labels == 1, np.round(scores * 0.5, 3), scores)
        return counts_from_arrays(labels, scores, mode="exact")

    reference, window = labelled(20_000, changed=False), _unlabelled(np.round(rng.beta(2, 5, 4000), 3))
    recent = {"Week 9": labelled(4000, changed=False), "Week 10": labelled(4000, changed=True)}
    estimate = estimate_window(reference, window, 0.4, resamples=200, recent=recent)
    assert estimate.calibration.good and list(estimate.recent_calibration) == ["Week 9", "Week 10"]
    assert estimate.recent_calibration["Week 9"].good and not estimate.recent_calibration["Week 10"].good
    assert not estimate.reliable
    assert "as they were on the reference" in estimate.assumption
    assert "which they were not on the recent labelled window Week 10" in estimate.assumption
    warning = estimate.warning
    assert warning is not None and "Week 9" not in warning
    check = estimate.recent_calibration["Week 10"]
    assert (f"poorly calibrated on the recent labelled window Week 10 (they were calibrated on the reference: how "
            f"scores relate to outcomes has changed since): {check.observed:,.0f} positives observed") in warning
    assert f"off by {check.misplaced_share:.0%} of the positives beyond chance" in warning
    predicted, observed = check.recalls
    assert predicted - observed > 0.1 and f"{predicted:.2f} where it was {observed:.2f}" in warning
    out = json.loads(json.dumps(estimate.to_dict(), allow_nan=False))
    assert out["reliable"] is False and out["recent_calibration"]["Week 10"]["verdict"] == "poor"
    without = estimate_window(reference, window, 0.4, resamples=200, recent={"Week 9": recent["Week 9"]})
    assert without.reliable and without.warning is None


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
    (lambda: calibration_check(WINDOW, threshold="0.5"), "threshold to check calibration at must be a number"),
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
