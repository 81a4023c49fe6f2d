"""ThresholdCurve against scikit-learn and against a slow loop over thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    fbeta_score,
    matthews_corrcoef,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_curve,
)

from metricbridge import ThresholdCurve, counts_from_arrays, curve_from_counts
from tests.conftest import predictions


@given(predictions())
@settings(max_examples=60, deadline=None)
def test_counts_at_every_threshold_match_a_slow_loop(data):
    y, s, w = data
    weights = np.ones(len(y)) if w is None else w
    curve = curve_from_counts(counts_from_arrays(y, s, sample_weight=w))
    assert curve.thresholds[0] == np.inf and curve.tp[0] == 0 and curve.fp[0] == 0
    np.testing.assert_array_equal(curve.thresholds[1:], np.unique(s)[::-1])
    for threshold, tp, fp in zip(curve.thresholds, curve.tp, curve.fp, strict=True):
        flagged = s >= threshold
        assert tp == pytest.approx(weights[flagged & (y == 1)].sum(), abs=1e-9)
        assert fp == pytest.approx(weights[flagged & (y == 0)].sum(), abs=1e-9)


@given(predictions())
@settings(max_examples=60, deadline=None)
def test_point_metrics_match_scikit_learn(data):
    y, s, w = data
    curve = curve_from_counts(counts_from_arrays(y, s, sample_weight=w))
    for threshold in np.r_[np.quantile(s, [0.1, 0.5, 0.9]), s.max() + 1]:
        point = curve.at(threshold)
        pred = (s >= threshold).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, pred, sample_weight=w, labels=[0, 1]).ravel()
        counts = [point["tn"], point["fp"], point["fn"], point["tp"]]
        assert counts == pytest.approx([tn, fp, fn, tp], abs=1e-9)
        assert point["recall"] == pytest.approx(recall_score(y, pred, sample_weight=w), abs=1e-9)
        assert point["accuracy"] == pytest.approx(accuracy_score(y, pred, sample_weight=w), abs=1e-9)
        assert point["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y, pred, sample_weight=w), abs=1e-9)
        if pred.any():
            assert point["precision"] == pytest.approx(precision_score(y, pred, sample_weight=w), abs=1e-9)
            assert point["f1"] == pytest.approx(f1_score(y, pred, sample_weight=w), abs=1e-9)
            assert curve.f_beta(2.0)[curve.index_at(threshold)] == pytest.approx(
                fbeta_score(y, pred, beta=2.0, sample_weight=w), abs=1e-9)
            assert point["lift"] == pytest.approx(point["precision"] / (tp + fn) * (tp + fn + tn + fp))
        else:
            assert np.isnan(point["precision"]) and np.isnan(point["lift"])
        with np.errstate(invalid="ignore"):  # scikit-learn's sqrt of a rounding-negative product, near zero
            reference = matthews_corrcoef(y, pred, sample_weight=w)
        if min(tp + fp, tp + fn, tn + fp, tn + fn) <= 0:  # an empty margin: undefined, not scikit-learn's 0
            assert np.isnan(point["mcc"])
        elif np.isnan(reference):
            assert abs(point["mcc"]) < 1e-6
        else:
            assert point["mcc"] == pytest.approx(reference, abs=1e-9)
        assert point["flag_rate"] == pytest.approx((tp + fp) / (tp + fp + tn + fn), abs=1e-12)
        assert point["specificity"] == pytest.approx(1 - point["fpr"], abs=1e-12)


@given(predictions())
@settings(max_examples=40, deadline=None)
def test_roc_and_pr_points_match_scikit_learn(data):
    y, s, w = data
    curve = curve_from_counts(counts_from_arrays(y, s, sample_weight=w))
    fpr, tpr, thresholds = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(curve.fpr, fpr, atol=1e-12)
    np.testing.assert_allclose(curve.recall, tpr, atol=1e-12)
    precision, recall, pr_thresholds = precision_recall_curve(y, s, sample_weight=w)
    # scikit-learn lists the PR curve from the lowest threshold up, with a closing (1, 0) point.
    np.testing.assert_allclose(curve.precision[1:][::-1], precision[:-1], atol=1e-12)
    np.testing.assert_allclose(curve.recall[1:][::-1], recall[:-1], atol=1e-12)
    np.testing.assert_array_equal(curve.thresholds[1:][::-1], pr_thresholds)


def test_a_threshold_between_scores_takes_the_next_score_up():
    curve = curve_from_counts(counts_from_arrays(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8])))
    assert curve.at(0.36) == curve.at(0.4)
    assert curve.at(0.4)["tp"] == 2 and curve.at(0.4)["fp"] == 0
    assert curve.at(0.0)["fp"] == 2 and curve.at(2.0)["tp"] == 0  # flag all, flag nothing


def test_ratios_with_nothing_to_divide_by_are_nan():
    curve = curve_from_counts(counts_from_arrays(np.zeros(3, dtype=int), np.array([0.2, 0.5, 0.9])))
    point = curve.at(0.5)
    assert np.isnan(point["recall"]) and point["fpr"] == pytest.approx(2 / 3)
    assert point["precision"] == 0.0 and np.isnan(point["mcc"])


@given(predictions(min_size=50, max_size=3000))
@settings(max_examples=25, deadline=None)
def test_downsampling_keeps_the_ends_and_stays_within_budget(data):
    y, s, w = data
    curve = curve_from_counts(counts_from_arrays(y, s, sample_weight=w))
    small = curve.downsample(40)
    if len(curve.thresholds) > 40:
        assert len(small.thresholds) <= 40 + 2  # the budget, plus both ends
    else:
        assert len(small.thresholds) == len(curve.thresholds)  # nothing to thin
    assert small.thresholds[0] == curve.thresholds[0] and small.thresholds[-1] == curve.thresholds[-1]
    assert small.tp[-1] == curve.tp[-1] and small.fp[-1] == curve.fp[-1]
    assert set(small.thresholds) <= set(curve.thresholds)


def test_downsampling_keeps_the_corner_of_a_perfect_model():
    y = np.r_[np.zeros(5000, dtype=int), np.ones(5000, dtype=int)]
    s = np.r_[np.linspace(0, 0.49, 5000), np.linspace(0.5, 1, 5000)]
    small = curve_from_counts(counts_from_arrays(y, s)).downsample(50)
    corner = (small.recall == 1) & (small.fpr == 0)
    assert corner.any()  # the (0, 1) corner that makes AUC 1 survives thinning


def test_curve_rejects_increasing_thresholds():
    with pytest.raises(ValueError, match="decreasing"):
        ThresholdCurve(thresholds=np.array([0.1, 0.5]), tp=np.zeros(2), fp=np.zeros(2), positives=1,
                       negatives=1)
