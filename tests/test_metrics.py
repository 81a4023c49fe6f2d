"""Threshold-free metrics against scikit-learn on random inputs with ties and weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from metricbridge import counts_from_arrays, curve_from_counts, evaluate_counts
from metricbridge import metrics as m
from metricbridge.curve import POINT_METRICS
from tests.conftest import predictions


@given(predictions())
@settings(max_examples=80, deadline=None)
def test_threshold_free_metrics_match_scikit_learn(data):
    y, s, w = data
    counts = counts_from_arrays(y, s, sample_weight=w)
    curve = curve_from_counts(counts)
    assert m.roc_auc(curve) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-9)
    assert m.average_precision(curve) == pytest.approx(
        average_precision_score(y, s, sample_weight=w), abs=1e-9)
    assert m.brier(counts) == pytest.approx(brier_score_loss(y, s, sample_weight=w), abs=1e-9)
    assert m.log_loss(counts) == pytest.approx(log_loss(y, s, sample_weight=w), abs=1e-9)


@given(predictions(weighted=False, min_size=20))
@settings(max_examples=40, deadline=None)
def test_calibration_table_matches_scikit_learn(data):
    y, s, _ = data
    table = m.calibration_table(counts_from_arrays(y, s), bins=10)
    observed, predicted = calibration_curve(y, s, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["observed_rate"], observed, atol=1e-9)
    np.testing.assert_allclose(table["mean_score"], predicted, atol=1e-9)
    assert table["rows"].sum() == len(y)


@given(predictions(weighted=False, min_size=20, max_size=500), st.sampled_from(["exact", "binned"]))
@settings(max_examples=30, deadline=None)
def test_weighted_calibration_table_is_that_of_the_rows_repeated(data, mode):
    """Whole-number weights count a row that many times: scikit-learn on the repeated rows is the oracle."""
    y, s, _ = data
    w = np.random.default_rng(len(y)).integers(1, 6, len(y))
    table = m.calibration_table(counts_from_arrays(y, s, sample_weight=w, mode=mode, bins=8), bins=10)
    observed, predicted = calibration_curve(np.repeat(y, w), np.repeat(s, w), n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["observed_rate"], observed, atol=1e-9)
    np.testing.assert_allclose(table["mean_score"], predicted, atol=1e-9)
    assert table["weight"].sum() == w.sum() and table["rows"].sum() == len(y)


@given(predictions(weighted=False, min_size=20, max_size=2000))
@settings(max_examples=40, deadline=None)
def test_binned_calibration_table_matches_scikit_learn_with_scores_on_the_tenths(data):
    """Scores of one or two decimals sit exactly on the calibration edges k/10: binned cells still land in
    scikit-learn's bins, (k/10, (k+1)/10]."""
    y, s, _ = data
    table = m.calibration_table(counts_from_arrays(y, s, mode="binned", bins=8), bins=10)
    observed, predicted = calibration_curve(y, s, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["observed_rate"], observed, atol=1e-9)
    np.testing.assert_allclose(table["mean_score"], predicted, atol=1e-9)


@given(predictions(min_size=20, max_size=2000))
@settings(max_examples=30, deadline=None)
def test_binned_counts_keep_exact_brier_and_log_loss(data):
    y, s, w = data
    exact = counts_from_arrays(y, s, sample_weight=w, mode="exact")
    binned = counts_from_arrays(y, s, sample_weight=w, mode="binned", bins=8)
    assert binned.cells <= 2 * (8 + 20)  # bins, k/10 and the double above each
    assert m.brier(binned) == pytest.approx(m.brier(exact), abs=1e-9)
    assert m.log_loss(binned) == pytest.approx(m.log_loss(exact), abs=1e-9)
    assert binned.positives == pytest.approx(exact.positives)


def test_margins_get_no_probability_metrics():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    margins = rng.normal(size=200) * 3
    counts = counts_from_arrays(y, margins)
    assert not counts.is_probability
    assert m.brier(counts) is None and m.log_loss(counts) is None
    assert m.calibration_table(counts).empty
    assert m.roc_auc(curve_from_counts(counts)) == pytest.approx(roc_auc_score(y, margins), abs=1e-12)


@pytest.mark.parametrize("label, missing", [(0, "positive"), (1, "negative")])
def test_a_single_class_leaves_two_class_metrics_empty_and_says_why(label, missing):
    counts = counts_from_arrays(np.full(10, label), np.linspace(0, 1, 10))
    evaluation = evaluate_counts("score", counts, threshold=0.5).to_dict()
    assert evaluation["roc_auc"] is None
    assert (evaluation["average_precision"] is None) == (missing == "positive")
    assert evaluation["brier"] == pytest.approx(brier_score_loss(np.full(10, label), np.linspace(0, 1, 10),
                                                                 pos_label=1), abs=1e-12)
    assert f"no {missing} items" in m.single_class_warning(counts, name="score")
    assert m.single_class_warning(counts_from_arrays(np.r_[0, 1], np.r_[0.2, 0.7])) is None


def test_evaluation_dict_reports_weighted_totals_and_row_count():
    y = np.array([0, 1, 1, 0])
    counts = counts_from_arrays(y, np.array([0.1, 0.9, 0.6, 0.7]), sample_weight=np.array([1, 2, 3, 4.0]))
    result = evaluate_counts("p", counts, threshold=0.5).to_dict()
    assert result["rows"] == 4 and result["n"] == 10.0 and result["positives"] == 5.0
    assert result["prevalence"] == 0.5
    assert list(result["at_threshold"]) == list(POINT_METRICS)
    assert result["at_threshold"]["tp"] == 5.0 and result["at_threshold"]["fp"] == 4.0
