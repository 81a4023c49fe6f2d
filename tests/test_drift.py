"""Score drift against scipy's two-sample KS test, a PSI worked by hand and a slow loop over raw rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp, kstwo

from metricbridge import counts_from_arrays
from metricbridge.drift import PSI_FLOOR, DriftThresholds, effective_size, ks, psi, score_drift
from metricbridge.errors import InputError


def _counts(scores, labels=None, weights=None, **kwargs):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.zeros(len(scores), dtype=np.int64) if labels is None else labels
    return counts_from_arrays(labels, scores, sample_weight=weights, **kwargs)


@st.composite
def two_samples(draw, *, max_size: int = 300):
    """Two score arrays with ties (few decimals) of independent sizes from 2 (one item each would make scipy's
    n1 n2 / (n1 + n2) round to 0, where it divides by zero), the second maybe shifted."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    decimals = draw(st.sampled_from([1, 2, 3, 8]))
    first = np.round(rng.random(draw(st.integers(2, max_size))), decimals)
    shift = draw(st.sampled_from([0.0, 0.05, 0.3]))
    second = np.round(np.clip(rng.random(draw(st.integers(2, max_size))) + shift, 0, 1), decimals)
    labels = (rng.random(len(first)) < 0.3).astype(np.int64), (rng.random(len(second)) < 0.3).astype(np.int64)
    return first, second, labels


@given(two_samples())
@settings(max_examples=80, deadline=None)
def test_ks_equals_scipy_on_the_raw_scores(samples):
    first, second, (labels_first, labels_second) = samples
    statistic, p_value = ks(_counts(first, labels_first, mode="exact"), _counts(second, labels_second, mode="exact"))
    expected = ks_2samp(first, second, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    # the same formula (kstwo at the rounded n1 n2 / (n1 + n2)) on the same statistic
    assert p_value == pytest.approx(expected.pvalue, abs=1e-6)


@given(two_samples(max_size=120), st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_weighted_ks_is_the_ks_of_the_rows_repeated(samples, seed):
    first, second, _ = samples
    rng = np.random.default_rng(seed)
    weights_first, weights_second = rng.integers(1, 6, len(first)), rng.integers(1, 6, len(second))
    reference = _counts(first, weights=weights_first.astype(np.float64), mode="exact")
    window = _counts(second, weights=weights_second.astype(np.float64), mode="exact")
    statistic, p_value = ks(reference, window)
    repeated = ks_2samp(np.repeat(first, weights_first), np.repeat(second, weights_second), method="asymp")
    assert statistic == pytest.approx(repeated.statistic, abs=1e-12)
    # the p-value counts Kish's effective items, not the repeated rows: fewer, so it is less sure
    kish = [w.sum() ** 2 / (w.astype(np.float64) ** 2).sum() for w in (weights_first, weights_second)]
    assert effective_size(reference) == pytest.approx(kish[0], rel=1e-12)
    size = max(1.0, np.round(kish[0] * kish[1] / (kish[0] + kish[1])))
    assert p_value == pytest.approx(kstwo.sf(statistic, size), abs=1e-12)


def test_psi_equals_a_hand_computation():
    # ten reference items, one per decile bin (low, high]; the window fills four of them
    reference = _counts(np.arange(10) / 10 + 0.05)
    window = _counts([0.05, 0.05, 0.15, 0.5, 0.55, 0.95, 0.95, 0.99])
    shares = {0: 2 / 8, 1: 1 / 8, 5: 2 / 8, 9: 3 / 8}  # 0.5 and 0.55 fall in (0.45, 0.55]; 0.99 in the last
    by_hand = sum((shares.get(b, PSI_FLOOR) - 0.1) * math.log(shares.get(b, PSI_FLOOR) / 0.1) for b in range(10))
    assert by_hand == pytest.approx(
        2 * 0.15 * math.log(2.5) + 0.025 * math.log(1.25) + 0.275 * math.log(3.75)
        + 6 * (1e-4 - 0.1) * math.log(1e-3))
    assert psi(reference, window) == pytest.approx(by_hand, rel=1e-12)


def _psi_by_rows(reference: np.ndarray, window: np.ndarray, bins: int) -> float:
    """Unweighted PSI from raw rows: quantile k is the ceil(k n / bins)-th smallest score, in integers."""
    ordered = np.sort(reference)
    edges = np.unique([ordered[-(-k * len(ordered) // bins) - 1] for k in range(1, bins)])
    total = 0.0
    for low, high in zip(np.r_[-np.inf, edges], np.r_[edges, np.inf], strict=True):
        expected = max(np.mean((reference > low) & (reference <= high)), PSI_FLOOR)
        actual = max(np.mean((window > low) & (window <= high)), PSI_FLOOR)
        total += (actual - expected) * math.log(actual / expected)
    return total


@given(two_samples(), st.sampled_from([2, 5, 10, 20]))
@settings(max_examples=60, deadline=None)
def test_psi_equals_a_loop_over_raw_rows_and_is_zero_against_itself(samples, bins):
    first, second, (labels_first, labels_second) = samples
    reference, window = _counts(first, labels_first, mode="exact"), _counts(second, labels_second, mode="exact")
    assert psi(reference, window, bins=bins) == pytest.approx(_psi_by_rows(first, second, bins), rel=1e-9, abs=1e-12)
    assert psi(window, window, bins=bins) == 0.0
    assert psi(reference, reference, bins=bins) == 0.0


def test_a_window_against_itself_has_not_drifted():
    rng = np.random.default_rng(3)
    scores = rng.beta(2, 5, 5000)
    counts = _counts(scores, (rng.random(5000) < scores).astype(np.int64))
    drift = score_drift(counts, counts)
    assert (drift.psi, drift.ks_statistic, drift.ks_p_value) == (0.0, 0.0, 1.0)
    assert drift.prevalence_change == 0.0
    assert not drift.drifted and drift.reasons == ()


def test_a_shifted_window_has_drifted_and_says_why():
    rng = np.random.default_rng(4)
    reference, window = _counts(rng.beta(2, 5, 5000)), _counts(rng.beta(3, 4, 5000))
    drift = score_drift(reference, window, labelled=False)
    assert drift.drifted and drift.psi > 0.2
    assert drift.reasons[0] == f"scores shifted: PSI {drift.psi:.2f}, above 0.2"
    assert "KS p-value" in drift.reasons[1] and drift.ks_p_value < 0.01
    assert drift.window_prevalence is None and drift.prevalence_change is None
    laxer = score_drift(reference, window, thresholds=DriftThresholds(psi=None, ks_p_value=None), labelled=False)
    assert not laxer.drifted


def test_a_change_in_prevalence_is_a_reason_only_when_asked_and_labelled():
    rng = np.random.default_rng(5)
    scores = rng.random(4000)
    reference = _counts(scores, (rng.random(4000) < 0.1).astype(np.int64))
    window = _counts(scores, (rng.random(4000) < 0.2).astype(np.int64))
    assert not score_drift(reference, window).drifted  # same scores; prevalence is off by default
    asked = DriftThresholds(prevalence_change=0.05)
    drift = score_drift(reference, window, thresholds=asked)
    assert drift.drifted and drift.reasons[0].startswith("share of positives moved by +")
    assert drift.prevalence_change == pytest.approx(window.prevalence - reference.prevalence)
    assert not score_drift(reference, window, thresholds=asked, labelled=False).drifted


def test_to_dict_is_json_and_states_the_thresholds():
    rng = np.random.default_rng(6)
    drift = score_drift(_counts(rng.random(500)), _counts(rng.random(500) ** 2), labelled=False)
    out = json.loads(json.dumps(drift.to_dict()))
    assert out["thresholds"] == {"psi": 0.2, "ks_p_value": 0.01, "prevalence_change": None}
    assert out["drifted"] is True and out["reasons"] == list(drift.reasons)
    assert out["window_prevalence"] is None


def test_binned_counts_give_nearly_the_exact_drift():
    rng = np.random.default_rng(7)
    n = 60_000
    window_of = np.repeat([0, 1, 2], n)  # the reference, a shifted window and a slightly shifted one
    scores = np.r_[rng.beta(2, 5, n), rng.beta(2.3, 5, n), rng.beta(2.02, 5, n)]
    labels = (rng.random(3 * n) < scores).astype(np.int64)
    figures = {}
    for mode in ("exact", "binned"):
        counts = counts_from_arrays(labels, scores, mode=mode, keys={"window": window_of})
        reference, *windows = (counts.select(counts.keys["window"] == k) for k in (0, 1, 2))
        assert reference.mode == mode
        figures[mode] = [(psi(reference, window), *ks(reference, window)) for window in windows]
    for (psi_exact, ks_exact, p_exact), (psi_binned, ks_binned, p_binned) in zip(*figures.values(), strict=True):
        assert psi_binned == pytest.approx(psi_exact, abs=1e-3)
        assert ks_binned == pytest.approx(ks_exact, abs=5e-4)
        assert ks_binned <= ks_exact + 1e-12  # the CDFs just below the shared bin edges only: never a larger gap
        assert p_binned == pytest.approx(p_exact, abs=0.02)
    assert figures["exact"][1][2] > 0.05  # the slight shift's p-value is one to compare, not 1e-164


@pytest.mark.parametrize(("call", "match"), [
    (lambda c, e: psi(c, e), "the window has no items"),
    (lambda c, e: ks(e, c), "the reference has no items"),
    (lambda c, e: psi(c, c, bins=1), "bins must be a whole number of at least 2"),
    (lambda c, e: DriftThresholds(psi=-1), "psi must be a number of at least 0"),
    (lambda c, e: DriftThresholds(ks_p_value=2), "ks_p_value is a probability"),
])
def test_bad_inputs_say_what_is_wrong(call, match):
    counts, empty = _counts([0.1, 0.5, 0.9]), _counts([])
    with pytest.raises(InputError, match=match):
        call(counts, empty)
