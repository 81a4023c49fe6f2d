"""The cell bootstrap: the same as a row bootstrap, known answers, coverage, and the verdict rules."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.criteria import load_criteria
from metricbridge.judge import _verdict, choose_threshold, judge
from metricbridge.outcomes import outcomes_for_curve
from metricbridge.scenario import ItemValue, Scenario, StatusQuo
from metricbridge.uncertainty import batch_curve, coarsen, collapse, draw, percentile_interval
from tests.conftest import predictions


def _criteria(*entries: str, confidence: float = 0.9, objective: str | None = None):
    text = f"name: test\nversion: 1\nconfidence: {confidence}\n" + (f"objective: {objective}\n" if objective else "")
    return load_criteria("c.yaml", text=text + "criteria:\n" + "".join(f"  - {e}\n" for e in entries))


@given(predictions(min_size=10))
@settings(max_examples=30, deadline=None)
def test_each_resample_is_the_count_of_its_drawn_rows(data):
    y, s, w = data
    counts = counts_from_arrays(y, s, sample_weight=w)
    draws = draw(counts, resamples=4, seed=len(y))
    assert (draws.sum(axis=1) == len(y)).all()
    batch = batch_curve(counts, draws)
    weight_per_row = counts.weights / counts.rows
    for b in range(4):
        # the same resample as rows: repeat each cell's representative row as often as it was drawn
        rows = np.repeat(np.arange(counts.cells), draws[b])
        direct = curve_from_counts(counts_from_arrays(counts.labels[rows], counts.scores[rows],
                                                      sample_weight=weight_per_row[rows]))
        for threshold in (0.2, 0.5, 0.8):
            assert batch.tp[b, batch.index_at(threshold)] == pytest.approx(direct.tp[direct.index_at(threshold)])
            assert batch.fp[b, batch.index_at(threshold)] == pytest.approx(direct.fp[direct.index_at(threshold)])


@given(predictions(min_size=50, max_size=2000))
@settings(max_examples=30, deadline=None)
def test_coarsening_and_collapsing_keep_every_total(data):
    y, s, w = data
    counts = counts_from_arrays(y, s, sample_weight=w)
    for smaller in (coarsen(counts, 7), collapse(counts, 0.5)):
        assert smaller.n_rows == counts.n_rows and smaller.n == pytest.approx(counts.n)
        assert smaller.positives == pytest.approx(counts.positives)
        assert smaller.raw_sum("brier_sums").sum() == pytest.approx(counts.raw_sum("brier_sums").sum())
    assert len(np.unique(coarsen(counts, 7).scores)) <= 7
    full, few = curve_from_counts(counts), curve_from_counts(collapse(counts, 0.5))
    assert few.at(0.5)["tp"] == pytest.approx(full.at(0.5)["tp"])


def _normal_data(n: int, seed: int, prevalence: float = 0.2):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    return y, rng.normal(1.0 * y, 1.0).round(4)


def test_the_recall_interval_matches_the_binomial_interval_on_a_large_sample():
    y, s = _normal_data(100_000, 1)
    counts = counts_from_arrays(y, s)
    batch = batch_curve(collapse(counts, 1.0), draw(collapse(counts, 1.0), resamples=2000, seed=3))
    recall = batch.recall[:, batch.index_at(1.0)]
    p, positives = curve_from_counts(counts).at(1.0)["recall"], y.sum()
    half = NormalDist().inv_cdf(0.95) * np.sqrt(p * (1 - p) / positives)
    low, high = percentile_interval(recall, 0.9)
    assert low == pytest.approx(p - half, abs=0.15 * half) and high == pytest.approx(p + half, abs=0.15 * half)


def test_a_criterion_far_from_its_target_is_certain():
    y, s = _normal_data(5000, 2)
    counts = counts_from_arrays(y, s)
    criteria = _criteria("{metric: recall, at_least: 0.05}", "{metric: recall, at_least: 0.99}",
                         "{metric: roc_auc, at_least: 0.5}", "{metric: roc_auc, at_least: 0.95}")
    choice, _ = choose_threshold(counts, criteria, None, resamples=300)
    result = judge(counts, criteria, None, threshold=0.5, choice=choice, resamples=300)
    assert [v.probability for v in result.verdicts] == [1.0, 0.0, 1.0, 0.0]
    assert [v.verdict for v in result.verdicts] == ["pass", "fail", "pass", "fail"]


def test_verdicts_at_the_edges_of_the_confidence():
    assert _verdict(0.9, 0.9) == "pass" and _verdict(0.1, 0.9) == "fail"  # 100 of 1,000 at 0.9 is a fail
    assert _verdict(0.8999, 0.9) == "uncertain" and _verdict(0.1001, 0.9) == "uncertain"


def test_intervals_cover_the_truth_about_as_often_as_they_claim():
    """90% intervals of recall and of value, on data from a known model, cover the truth in 88-92% of 1,500
    repetitions (deterministic seeds)."""
    threshold, true_recall = 1.0, 1 - NormalDist(1.0, 1.0).cdf(1.0)
    true_fpr = 1 - NormalDist(0.0, 1.0).cdf(1.0)
    scenario = Scenario(volume=1000, prevalence=0.2, value={"caught": ItemValue(constant=50),
                                                            "false_alarm": ItemValue(constant=-10)})
    true_value = 1000 * 0.2 * true_recall * 50 - 1000 * 0.8 * true_fpr * 10
    covered = {"recall": 0, "value": 0}
    repetitions = 1500
    for seed in range(repetitions):
        y, s = _normal_data(2000, 1000 + seed)
        few = collapse(counts_from_arrays(y, s), threshold)
        batch = batch_curve(few, draw(few, resamples=1000, seed=seed))
        index = batch.index_at(threshold)
        for name, samples, truth in (("recall", batch.recall[:, index], true_recall),
                                     ("value", outcomes_for_curve(batch, scenario).value[:, index], true_value)):
            low, high = percentile_interval(samples, 0.9)
            covered[name] += low <= truth <= high
    for name, hits in covered.items():
        assert 0.88 <= hits / repetitions <= 0.92, (name, hits / repetitions)


def test_a_status_quo_of_the_models_own_decisions_is_compared_on_the_same_resamples():
    y, s = _normal_data(3000, 4)
    rule = (s >= 0.8).astype(int)
    counts = counts_from_arrays(y, s, keys={"rule": rule})
    scenario = Scenario(volume=100, value={"caught": ItemValue(constant=1)},
                        status_quo=(StatusQuo(name="Rule", column="rule"),))
    criteria = _criteria("{metric: caught, at_least: 1.0, relative_to: Rule}",
                         "{metric: caught, at_least: 1.02, relative_to: Rule}")
    choice, _ = choose_threshold(counts, criteria, scenario, resamples=500)
    result = judge(counts, criteria, scenario, threshold=0.8, choice=choice, resamples=500)
    # paired: equal in every resample, so ">= 1.0 x" always holds and ">= 1.02 x" never does
    assert [v.probability for v in result.verdicts] == [1.0, 0.0]
    low, high = result.differences["Rule"]["caught"]
    assert low == high == 0.0


def test_paired_differences_are_the_model_minus_the_status_quo():
    y, s = _normal_data(3000, 6)
    strict = (s >= 0.9).astype(int)  # a rule that flags a subset of what the model flags at 0.8
    counts = counts_from_arrays(y, s, keys={"strict": strict})
    scenario = Scenario(volume=1000, value={"caught": ItemValue(constant=1)},
                        status_quo=(StatusQuo(name="Strict", column="strict"),))
    criteria = _criteria("{metric: recall, at_least: 0.1}")
    choice, _ = choose_threshold(counts, criteria, scenario, resamples=300)
    result = judge(counts, criteria, scenario, threshold=0.8, choice=choice, resamples=300)
    caught_low, caught_high = result.differences["Strict"]["caught"]
    missed_low, missed_high = result.differences["Strict"]["missed"]
    assert 0 < caught_low <= caught_high and missed_low <= missed_high < 0
    flagged = s >= 0.8
    more = 1000 * y.mean() * ((flagged & (y == 1)).sum() - ((strict == 1) & (y == 1)).sum()) / y.sum()
    assert caught_low <= more <= caught_high


def test_the_chosen_threshold_is_the_best_that_passes():
    y, s = _normal_data(4000, 5)
    counts = counts_from_arrays(y, s)
    criteria = _criteria("{metric: recall, at_least: 0.6}", objective="maximize precision")
    choice, bands = choose_threshold(counts, criteria, None, resamples=500, bins=200)
    assert choice.chosen is not None and choice.spread is not None
    at = judge(counts, criteria, None, threshold=choice.chosen, choice=choice, resamples=500)
    assert at.verdicts[0].probability >= 0.9
    # precision rises with the threshold here, so the next coarse threshold up must not pass
    thresholds = np.sort(bands["threshold"].dropna().to_numpy())
    above = thresholds[np.searchsorted(thresholds, choice.chosen, side="right")]
    higher = judge(counts, criteria, None, threshold=float(above), choice=choice, resamples=500)
    assert higher.verdicts[0].probability < 0.9
    assert {"recall_low", "recall_high", "precision_low", "fpr_high"} <= set(bands.columns)
    inside = bands.dropna()
    assert (inside["recall_low"] <= inside["recall_high"]).all()


def test_conflicting_criteria_choose_nothing_and_say_what_blocks():
    y, s = _normal_data(4000, 6)
    counts = counts_from_arrays(y, s)
    criteria = _criteria("{metric: recall, at_least: 0.95}", "{metric: flag_rate, at_most: 0.05}")
    choice, _ = choose_threshold(counts, criteria, None, resamples=300, bins=200)
    assert choice.chosen is None and choice.closest is not None
    assert choice.blocking and "no threshold meets these together" in choice.blocking[0]


def test_an_uncertain_verdict_says_how_many_more_labels_would_settle_it():
    y, s = _normal_data(400, 7)
    counts = counts_from_arrays(y, s)
    recall = curve_from_counts(counts).at(1.0)["recall"]
    criteria = _criteria(f"{{metric: recall, at_least: {recall - 0.05:.4f}}}")
    choice, _ = choose_threshold(counts, criteria, None, resamples=1000)
    verdict = judge(counts, criteria, None, threshold=1.0, choice=choice, resamples=1000).verdicts[0]
    assert verdict.verdict == "uncertain" and verdict.labels_needed is not None and verdict.labels_needed > 0
    # with that many more items (same data, repeated) the verdict settles
    more = int(np.ceil((400 + verdict.labels_needed) / 400)) + 1
    bigger = counts_from_arrays(np.tile(y, more), np.tile(s, more))
    settled = judge(bigger, criteria, None, threshold=1.0, choice=choice, resamples=1000).verdicts[0]
    assert settled.verdict == "pass"


def _keyed_fraud(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.15), 0, 1)
    keys = {"segment": rng.choice(["a", "b", "c", "d"], n).astype(object), "rule": (rng.random(n) < 0.2).astype(int)}
    amount = rng.lognormal(3.0, 1.0, n)
    return counts_from_arrays(y, s, mode="binned", bins=2_000, keys=keys, sums={"amount": amount})


def test_keys_that_are_not_decisions_leave_the_bootstrap_as_it_is_without_them():
    """A segment or window key changes no figure the bootstrap computes: keyed counts draw the same resamples as
    the same rows counted without the key."""
    from metricbridge.segments import segment_counts
    from metricbridge.uncertainty import build_bootstrap

    keyed = _keyed_fraud(5_000, 3)
    whole = keyed.select(np.ones(keyed.cells, dtype=bool))
    merged = None
    for part in segment_counts(keyed, "segment").values():  # the same rows, counted without the segment key
        unkeyed = type(part)(**{**{f: getattr(part, f) for f in part.__dataclass_fields__},
                                "keys": {"rule": part.keys["rule"]}})
        merged = unkeyed if merged is None else merged.merge(unkeyed)
    a = build_bootstrap(whole, decisions=("rule",), resamples=200, seed=4)
    b = build_bootstrap(merged, decisions=("rule",), resamples=200, seed=4)
    assert np.array_equal(a.draws, b.draws)
    assert np.allclose(a.curve.tp, b.curve.tp) and np.allclose(a.decisions["rule"].fp, b.decisions["rule"].fp)


def test_a_bootstrap_at_one_threshold_resamples_its_figures_as_the_full_one_does():
    """build_bootstrap(at=t) collapses the cells to flagged and not before drawing: the figures at t have the
    point values of the full bootstrap and intervals that agree within the resampling error."""
    from metricbridge.uncertainty import build_bootstrap

    counts = _keyed_fraud(20_000, 8)
    threshold = float(np.quantile(counts.scores, 0.8))
    full = build_bootstrap(counts, decisions=("rule",), resamples=4_000, seed=1)
    one = build_bootstrap(counts, decisions=("rule",), resamples=4_000, seed=2, at=threshold)
    assert one.cells.cells <= 8 and not one.threshold_free
    for metric in ("recall", "precision", "flag_rate"):
        a = np.asarray(getattr(full.column_at(threshold), metric))[:, 0]
        b = np.asarray(getattr(one.column_at(threshold), metric))[:, 0]
        assert curve_from_counts(counts).at(threshold)[metric] == pytest.approx(float(one.exact.at(threshold)[metric]))
        assert b.std() == pytest.approx(a.std(), rel=0.08)  # 4,000 resamples: the sd is known to ~2%
        assert np.median(b) == pytest.approx(np.median(a), abs=3 * a.std() / np.sqrt(4_000) + 1e-9)
    tp_amount = np.asarray(one.column_at(threshold).value_tp["amount"])[:, 0]
    full_amount = np.asarray(full.column_at(threshold).value_tp["amount"])[:, 0]
    assert tp_amount.std() == pytest.approx(full_amount.std(), rel=0.08)
