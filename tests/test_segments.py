"""Segments: per-segment counts add up to the whole; each segment's figures are scikit-learn's on its own rows;
its outcomes are its share of the deployment; verdicts, order, sentences and the disagreement warning; gaps with
stratified-bootstrap intervals; per-segment thresholds under a shared capacity against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from metricbridge import counts_from_arrays
from metricbridge.criteria import Criteria, Criterion
from metricbridge.curve import curve_from_counts
from metricbridge.errors import InputError
from metricbridge.judge import Choice, judge
from metricbridge.outcomes import outcomes_for_curve
from metricbridge.scenario import ItemValue, Scenario
from metricbridge.segments import (
    FAIL,
    NOT_JUDGED,
    PASS,
    TOO_FEW,
    UNCERTAIN,
    capacity_plan,
    plan_outcomes,
    segment_counts,
    segment_gaps,
    segment_report,
    segment_scenario,
    segment_seed,
    single_threshold_actions,
    thresholds_under_capacity,
)
from tests.conftest import predictions

THRESHOLD = 0.5
SCENARIO = Scenario(volume=10_000, item="transaction", positive="fraud", action="review", period="week",
                    currency="USD", value={"caught": ItemValue(column="amount", times=0.9),
                                           "false_alarm": ItemValue(constant=-3)})
RECALL_HALF = Criterion(metric="recall", comparison="at_least", bound=0.5)


def _criteria(*entries: Criterion, confidence: float = 0.9) -> Criteria:
    return Criteria(name="c", version=1, criteria=entries, confidence=confidence)


def _segment(rng, name, *, positives, caught, negatives, alarms):
    """Rows of one segment whose counts at THRESHOLD are exactly as given: ``caught`` of ``positives`` and
    ``alarms`` of ``negatives`` score at or above it."""
    y = np.r_[np.ones(positives), np.zeros(negatives)].astype(np.int8)
    above = np.r_[np.arange(positives) < caught, np.arange(negatives) < alarms]
    s = np.round(np.where(above, rng.uniform(0.5, 1.0, len(y)), rng.uniform(0.0, 0.49, len(y))), 3)
    return y, s, np.full(len(y), name, dtype=object)


@pytest.fixture(scope="module")
def channels():
    """web passes recall >= 50% (80%), mobile (30%) and kiosk (40%) fail it, app (55% of 40) is uncertain,
    tablet has too few items; overall recall is 240/396 = 61%, which passes."""
    rng = np.random.default_rng(3)
    parts = [_segment(rng, "web", positives=200, caught=160, negatives=1800, alarms=90),
             _segment(rng, "mobile", positives=50, caught=15, negatives=350, alarms=35),
             _segment(rng, "kiosk", positives=100, caught=40, negatives=200, alarms=20),
             _segment(rng, "app", positives=40, caught=22, negatives=260, alarms=13),
             _segment(rng, "tablet", positives=6, caught=3, negatives=54, alarms=5)]
    y, s, channel = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    amount = rng.lognormal(3, 1, len(y))
    counts = counts_from_arrays(y, s, keys={"channel": channel}, sums={"amount": amount})
    return y, s, channel, amount, counts


@pytest.fixture(scope="module")
def report(channels):
    *_, counts = channels
    return segment_report(counts, "channel", threshold=THRESHOLD, criteria=_criteria(RECALL_HALF),
                          scenario=SCENARIO, resamples=1000, seed=0)


# -- segment counts -------------------------------------------------------------------------------------------

@given(predictions(min_size=5, max_size=300), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0),
       st.sampled_from(["exact", "binned"]))
@settings(max_examples=40, deadline=None)
def test_the_segments_add_up_to_the_whole(data, seed, threshold, mode):
    y, s, w = data
    rng = np.random.default_rng(seed)
    channel = rng.choice(np.array(["web", "mobile", "kiosk", None], dtype=object), len(y))
    amount = rng.lognormal(2, 1, len(y))
    counts = counts_from_arrays(y, s, sample_weight=w, keys={"channel": channel}, sums={"amount": amount},
                                mode=mode, bins=16)
    parts = segment_counts(counts, "channel")
    present = sorted({v for v in channel if v is not None})
    assert list(parts) == present + ([None] if any(v is None for v in channel) else [])
    weights = np.ones(len(y)) if w is None else w
    for value, part in parts.items():
        rows = np.array([v == value if value is not None else v is None for v in channel])
        assert part.n_rows == rows.sum()
        assert part.n == pytest.approx(weights[rows].sum(), rel=1e-12)
        assert part.sums["amount"].sum() == pytest.approx((weights * amount)[rows].sum(), rel=1e-9)
        assert set(part.keys["channel"].tolist()) == {value}
    assert sum(p.n_rows for p in parts.values()) == counts.n_rows
    assert sum(p.n for p in parts.values()) == pytest.approx(counts.n, rel=1e-12)
    assert sum(p.positives for p in parts.values()) == pytest.approx(counts.positives, rel=1e-12)
    assert sum(p.sums["amount"].sum() for p in parts.values()) == pytest.approx(counts.sums["amount"].sum())
    for name in ("squares", "cubes"):
        total = sum(getattr(p, name)["amount"].sum() for p in parts.values())
        assert total == pytest.approx(getattr(counts, name)["amount"].sum(), rel=1e-9)
    whole = curve_from_counts(counts).at(threshold)
    at = [curve_from_counts(p).at(threshold) for p in parts.values()]
    assert sum(point["tp"] for point in at) == pytest.approx(whole["tp"], rel=1e-12, abs=1e-9)
    assert sum(point["fp"] for point in at) == pytest.approx(whole["fp"], rel=1e-12, abs=1e-9)


def test_segments_are_ordered_by_their_value_as_text_with_missing_last():
    y, s = np.array([0, 1, 0, 1, 1, 0]), np.array([0.1, 0.9, 0.4, 0.8, 0.2, 0.3])
    counts = counts_from_arrays(y, s, keys={"region": np.array([10.0, 9.0, 2.0, np.nan, 10.0, 2.0])})
    parts = segment_counts(counts, "region")
    assert list(parts) == [10.0, 2.0, 9.0, None]
    assert [p.n_rows for p in parts.values()] == [2, 2, 1, 1]


def test_the_figures_of_a_segment_are_scikit_learns_on_its_own_rows(channels, report):
    y, s, channel, _, _ = channels
    flagged = s >= THRESHOLD
    for name in ("web", "mobile", "kiosk", "app", "tablet"):
        rows = channel == name
        figures = report.result(name).figures
        assert figures["recall"] == pytest.approx(recall_score(y[rows], flagged[rows]), abs=1e-12)
        assert figures["precision"] == pytest.approx(precision_score(y[rows], flagged[rows]), abs=1e-12)
        assert figures["fpr"] == pytest.approx(1 - recall_score(y[rows], flagged[rows], pos_label=0), abs=1e-12)
        assert report.result(name).rows == rows.sum()
        assert report.result(name).positives == y[rows].sum()
    assert report.result("mobile").figures["recall"] == 0.3
    assert report.result("mobile").share == pytest.approx(400 / 3060)


@pytest.mark.parametrize("prevalence", [None, 0.02])
def test_a_segments_outcomes_are_its_share_of_the_deployment(channels, prevalence):
    *_, counts = channels
    scenario = SCENARIO.with_changes(prevalence=prevalence)
    whole = outcomes_for_curve(curve_from_counts(counts), scenario).at(THRESHOLD)
    parts = segment_counts(counts, "channel")
    points = {name: outcomes_for_curve(curve_from_counts(part), segment_scenario(scenario, part, counts))
              .at(THRESHOLD) for name, part in parts.items()}
    for key in ("caught", "missed", "false_alarms", "left_alone", "actions"):
        assert sum(p[key] for p in points.values()) == pytest.approx(whole[key], rel=1e-9)
    mobile = segment_scenario(scenario, parts["mobile"], counts)
    if prevalence is None:  # the test set's mix: the segment's share of items, at its own prevalence
        assert mobile.volume == pytest.approx(10_000 * 400 / 3060)
        assert points["mobile"]["caught"] == pytest.approx(10_000 * 15 / 3060)
    else:  # positives split as the test set's positives, negatives as its negatives
        assert mobile.volume == pytest.approx(10_000 * (0.02 * 50 / 396 + 0.98 * 350 / 2664))
        assert points["mobile"]["caught"] == pytest.approx(10_000 * 0.02 * 50 / 396 * 0.3)
    assert mobile.capacity is None


# -- the report -----------------------------------------------------------------------------------------------

def test_the_report_lists_failing_segments_first_then_uncertain_passing_and_too_few(report):
    assert [(r.segment, r.status) for r in report.results] == [
        ("mobile", FAIL), ("kiosk", FAIL), ("app", UNCERTAIN), ("web", PASS), ("tablet", TOO_FEW)]
    assert report.worst().segment == "mobile"
    assert report.reference == "web"  # the largest judged segment
    tablet = report.result("tablet")
    assert tablet.result is None and tablet.intervals == {} and tablet.rows == 60 and tablet.positive_rows == 6
    mobile = report.result("mobile").result.verdicts[0]
    assert mobile.value == 0.3 and mobile.probability <= 0.1
    assert report.result("web").result.verdicts[0].probability >= 0.9
    assert report.overall.met and report.overall.verdicts[0].value == pytest.approx(240 / 396)


def _shown(share):
    """A share as the sentences print it: 41%, 41.5%."""
    return f"{100 * share:.1f}".removesuffix(".0") + "%"


def test_the_report_says_it_in_the_scenarios_words(report):
    app = report.result("app").result.verdicts[0]
    low, high = report.result("web").intervals["recall"]
    lines = report.sentences()
    assert lines[0] == ("Overall the model meets the criteria, but it fails them in 2 of 4 channel segments judged "
                        "('mobile', 'kiosk'): an average can hide a segment that matters.")
    assert lines[1] == "In the 'mobile' channel the model catches 30% of frauds: below the agreed 50%."
    assert lines[2] == "In the 'kiosk' channel the model catches 40% of frauds: below the agreed 50%."
    assert lines[3] == (f"In the 'app' channel the model catches 55% of frauds: too close to the agreed 50% to tell "
                        f"({_shown(app.probability)} of the resamples meet it; about {app.labels_needed:,} more "
                        "labelled transactions in this segment would settle it).")
    assert lines[4] == (f"In the 'web' channel the model meets every agreed target: it catches 80% of frauds "
                        f"({_shown(low)} to {_shown(high)}).")
    assert lines[5] == ("In the 'tablet' channel there are too few transactions to judge: 60, of which 6 frauds "
                        "(at least 100 and 10 needed).")
    assert len(lines) == 6


def test_a_segments_intervals_and_verdicts_are_its_own_bootstraps(channels, report):
    """The same figures as judging the segment's counts alone, with its derived seed and share of the
    deployment."""
    *_, counts = channels
    index = list(segment_counts(counts, "channel")).index("kiosk")
    part = segment_counts(counts, "channel")["kiosk"]
    alone = judge(part, _criteria(RECALL_HALF), segment_scenario(SCENARIO, part, counts), threshold=THRESHOLD,
                  choice=Choice(chosen=None, closest=None), seed=segment_seed(0, index), resamples=1000)
    kiosk = report.result("kiosk")
    assert kiosk.result.verdicts[0].probability == alone.verdicts[0].probability
    assert kiosk.intervals["recall"] == pytest.approx(tuple(alone.intervals["recall"]))
    assert kiosk.intervals["caught"] == pytest.approx(tuple(alone.intervals["caught"]))
    # about the binomial interval of 40 caught of 100: 0.4 +- 1.645 x 0.049
    low, high = kiosk.intervals["recall"]
    assert low == pytest.approx(0.4 - 1.645 * 0.049, abs=0.02) and high == pytest.approx(0.4 + 1.645 * 0.049, abs=0.02)


def test_without_criteria_segments_get_figures_and_intervals_only(channels):
    *_, counts = channels
    report = segment_report(counts, "channel", threshold=THRESHOLD, resamples=200)
    assert [r.status for r in report.results] == [NOT_JUDGED] * 4 + [TOO_FEW]
    assert report.overall is None and report.warning is None and report.worst() is None
    web = report.result("web")
    assert web.outcomes is None and web.intervals["recall"][0] < 0.8 < web.intervals["recall"][1]
    assert "In the 'web' channel the model catches 80% of positives (" in report.sentences()[3]
    assert report.to_frame()["segment"].tolist() == ["app", "kiosk", "mobile", "web", "tablet"]


def test_targets_per_period_are_judged_overall_only(channels):
    *_, counts = channels
    value = Criterion(metric="value", comparison="at_least", bound=1.0)
    report = segment_report(counts, "channel", threshold=THRESHOLD, criteria=_criteria(RECALL_HALF, value),
                            scenario=SCENARIO, resamples=200)
    assert report.skipped == (value,)
    assert [v.criterion for v in report.result("web").result.verdicts] == [RECALL_HALF]
    assert [v.criterion for v in report.overall.verdicts] == [RECALL_HALF, value]
    assert report.sentences()[-1] == ("Targets per week for the whole deployment (value at least 1) are judged "
                                      "overall only.")


def test_a_warning_when_every_segment_passes_but_the_whole_does_not():
    """Scores ranked perfectly within each segment, but on different scales: each segment's ROC AUC is 1, the
    whole's 0.75 (scikit-learn's), so 'roc_auc at least 0.9' passes everywhere and fails overall."""
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(100), np.zeros(400), np.ones(100), np.zeros(400)].astype(np.int8)
    s = np.round(np.r_[rng.uniform(0.7, 1.0, 100), rng.uniform(0.5, 0.69, 400),
                       rng.uniform(0.2, 0.49, 100), rng.uniform(0.0, 0.19, 400)], 4)
    segment = np.repeat(["east", "west"], 500)
    counts = counts_from_arrays(y, s, keys={"region": segment})
    assert roc_auc_score(y, s) == pytest.approx(0.75)
    criteria = _criteria(Criterion(metric="roc_auc", comparison="at_least", bound=0.9))
    report = segment_report(counts, "region", threshold=0.5, criteria=criteria, resamples=300)
    assert [r.status for r in report.results] == [PASS, PASS]
    assert report.overall.verdicts[0].value == pytest.approx(0.75) and not report.overall.met
    assert report.warning.startswith("Overall the model does not meet the criteria, yet it meets them in every "
                                     "region segment judged")


def test_the_headline_names_the_worst_failing_segment_in_one_sentence(channels, report):
    """mobile (30%) and kiosk (40%) both fail 'recall at least 50%': mobile is the worst."""
    assert report.headline() == ("In the 'mobile' channel the model catches 30% of frauds: below the agreed 50% "
                                 "(the worst of the 2 channel segments that fail).")
    *_, counts = channels
    assert segment_report(counts, "channel", threshold=THRESHOLD, resamples=100).headline() is None  # no criteria


def test_the_headline_of_one_failing_segment_and_of_none():
    rng = np.random.default_rng(9)
    parts = [_segment(rng, "north", positives=200, caught=60, negatives=800, alarms=40),
             _segment(rng, "south", positives=200, caught=180, negatives=800, alarms=40)]
    y, s, region = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    counts = counts_from_arrays(y, s, keys={"region": region})
    failing = segment_report(counts, "region", threshold=THRESHOLD, criteria=_criteria(RECALL_HALF), resamples=300)
    assert failing.worst().segment == "north"
    assert failing.headline() == "In the 'north' region the model catches 30% of positives: below the agreed 50%."
    lenient = Criterion(metric="recall", comparison="at_least", bound=0.1)
    passing = segment_report(counts, "region", threshold=THRESHOLD, criteria=_criteria(lenient), resamples=300)
    assert [r.status for r in passing.results] == [PASS, PASS] and passing.headline() is None


# -- gaps -----------------------------------------------------------------------------------------------------

def _two_segments(rng, n, *, separation_a, separation_b, prevalence=0.2):
    y = (rng.random(2 * n) < prevalence).astype(np.int8)
    segment = np.repeat(["a", "b"], n)
    separation = np.where(segment == "a", separation_a, separation_b)
    s = np.round(np.clip(rng.normal(0.35 + separation * y, 0.15), 0, 1), 4)
    return y, s, segment


def test_a_gap_between_two_segments_of_one_model_covers_zero_in_most_seeds():
    covered = 0
    for seed in range(20):
        y, s, segment = _two_segments(np.random.default_rng(seed), 1500, separation_a=0.3, separation_b=0.3)
        counts = counts_from_arrays(y, s, keys={"segment": segment})
        gaps = segment_gaps(counts, "segment", threshold=0.5, resamples=300, seed=seed)
        recall = next(g for g in gaps if g.metric == "recall")
        covered += recall.difference_interval[0] <= 0 <= recall.difference_interval[1]
    assert covered >= 15  # 90% intervals: 18 of 20 expected


def test_a_gap_between_a_good_and_a_bad_segment_is_scikit_learns_and_excludes_zero():
    y, s, segment = _two_segments(np.random.default_rng(1), 2000, separation_a=0.35, separation_b=0.1)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    counts = counts_from_arrays(y, s, sample_weight=w, keys={"segment": segment})
    gaps = {g.metric: g for g in segment_gaps(counts, "segment", threshold=0.5, reference="a", resamples=1000)}
    flagged = s >= 0.5
    a, b = segment == "a", segment == "b"
    recall_a = recall_score(y[a], flagged[a], sample_weight=w[a])
    recall_b = recall_score(y[b], flagged[b], sample_weight=w[b])
    fpr_a = 1 - recall_score(y[a], flagged[a], pos_label=0, sample_weight=w[a])
    fpr_b = 1 - recall_score(y[b], flagged[b], pos_label=0, sample_weight=w[b])
    recall = gaps["recall"]
    assert (recall.segment, recall.reference) == ("b", "a")
    assert recall.difference == pytest.approx(recall_b - recall_a, abs=1e-12)
    assert recall.ratio == pytest.approx(recall_b / recall_a, rel=1e-12)
    assert gaps["fpr"].difference == pytest.approx(fpr_b - fpr_a, abs=1e-12)
    assert gaps["fpr"].ratio == pytest.approx(fpr_b / fpr_a, rel=1e-12)
    assert recall.settled and recall.difference_interval[1] < 0
    assert recall.ratio_interval[0] < recall.ratio < recall.ratio_interval[1] < 1
    # independent segments: the spread of the gap adds the two binomial spreads (weights widen it a little)
    positives_a, positives_b = y[a].sum(), y[b].sum()
    spread = np.sqrt(recall_a * (1 - recall_a) / positives_a + recall_b * (1 - recall_b) / positives_b)
    width = recall.difference_interval[1] - recall.difference_interval[0]
    assert width == pytest.approx(2 * 1.645 * spread, rel=0.25)


def test_the_gaps_are_reproducible_from_the_seed(channels):
    *_, counts = channels
    first = segment_gaps(counts, "channel", threshold=THRESHOLD, resamples=200, seed=4)
    again = segment_gaps(counts, "channel", threshold=THRESHOLD, resamples=200, seed=4)
    other = segment_gaps(counts, "channel", threshold=THRESHOLD, resamples=200, seed=5)
    assert [g.difference_interval for g in first] == [g.difference_interval for g in again]
    assert [g.difference_interval for g in first] != [g.difference_interval for g in other]
    assert {g.segment for g in first} == {"app", "kiosk", "mobile"}  # web is the reference, tablet too small


# -- thresholds under a shared capacity -----------------------------------------------------------------------

def _cells(positives_per_score, size=4):
    """Counts with one score per entry, each holding ``size`` rows of which the entry's number are positive
    (scores descending in entry order)."""
    y, s = [], []
    for place, positives in enumerate(positives_per_score):
        y += [1] * positives + [0] * (size - positives)
        s += [1.0 - place / 100] * size
    return counts_from_arrays(np.array(y), np.array(s))


def _brute_force(curves, budget):
    """The best total gain over every pair of thresholds within the budget, and the best single threshold's."""
    (t_a, a_a, g_a), (t_b, a_b, g_b) = curves
    best = max(g_a[i] + g_b[j] for i, j in itertools.product(range(len(t_a)), range(len(t_b)))
               if a_a[i] + a_b[j] <= budget + 1e-9)
    single = max(g_a[np.searchsorted(-t_a, -t, side="right") - 1] + g_b[np.searchsorted(-t_b, -t, side="right") - 1]
                 for t in np.r_[t_a, t_b]
                 if a_a[np.searchsorted(-t_a, -t, side="right") - 1]
                 + a_b[np.searchsorted(-t_b, -t, side="right") - 1] <= budget + 1e-9)
    return best, single


def _caught_curve(counts):
    curve = curve_from_counts(counts)
    return curve.thresholds, np.asarray(curve.flagged), np.asarray(curve.tp)


@pytest.mark.parametrize("budget", [0, 3, 4, 8, 10, 12, 17, 20, 28, 36, 48])
def test_the_greedy_catches_as_many_as_the_best_pair_of_thresholds(budget):
    """Concave curves (fewer positives at each lower score) in steps of 4 items: greedy is optimal."""
    segments = {"a": _cells([4, 3, 3, 2, 1, 0]), "b": _cells([4, 4, 2, 1, 1, 0])}
    plan = capacity_plan(segments, actions=budget)
    best, single = _brute_force([_caught_curve(c) for c in segments.values()], budget)
    assert plan.gain == best
    assert plan.actions <= budget
    assert plan.single_gain == single and plan.single_actions <= budget
    assert plan.gain >= plan.single_gain
    chosen = thresholds_under_capacity(segments, actions=budget)
    assert chosen == plan.thresholds
    assert sum(curve_from_counts(c).at(chosen[name])["tp"] + curve_from_counts(c).at(chosen[name])["fp"]
               for name, c in segments.items()) == plan.actions


def test_the_greedy_earns_the_value_of_the_best_pair_under_a_scenario():
    """One row per score, frauds worth decreasing amounts above the negatives, each false alarm costing 5:
    concave value curves in steps of one item per period (20 rows, a volume of 20)."""
    amounts_a, amounts_b = [100, 80, 60, 40, 20], [90, 70, 50, 30, 10]
    segments = {}
    for name, amounts in (("a", amounts_a), ("b", amounts_b)):
        y = np.r_[np.ones(5), np.zeros(5)].astype(np.int8)
        s = np.linspace(0.95, 0.05, 10)
        segments[name] = counts_from_arrays(y, s, sums={"amount": np.r_[amounts, np.zeros(5)]})
    scenario = Scenario(volume=20, period="week", value={"caught": ItemValue(column="amount"),
                                                         "false_alarm": ItemValue(constant=-5)})
    for budget in range(0, 21):
        plan = capacity_plan(segments, actions=budget, scenario=scenario)
        top = sorted(amounts_a + amounts_b, reverse=True)[:budget]
        assert plan.gain == pytest.approx(sum(top)), budget  # the best pair: the budget's largest amounts
        assert plan.actions <= budget + 1e-9 and plan.measure == "value" and plan.period == "week"
        assert plan.gain >= plan.single_gain - 1e-9
    plan = capacity_plan(segments, capacity_share=0.2, scenario=scenario)  # 4 reviews a week
    assert plan.budget == pytest.approx(4) and plan.gain == pytest.approx(100 + 90 + 80 + 70)
    assert plan.thresholds == {"a": pytest.approx(s[1]), "b": pytest.approx(s[1])}


@given(st.lists(st.integers(0, 4), min_size=1, max_size=7), st.lists(st.integers(0, 4), min_size=1, max_size=7),
       st.floats(0, 60))
@settings(max_examples=60, deadline=None)
def test_the_greedy_never_exceeds_the_capacity_nor_beats_the_best_pair(positives_a, positives_b, budget):
    segments = {"a": _cells(positives_a), "b": _cells(positives_b)}
    plan = capacity_plan(segments, actions=budget)
    best, single = _brute_force([_caught_curve(c) for c in segments.values()], budget)
    assert plan.actions <= budget + 1e-9
    assert 0 <= plan.gain <= best
    assert plan.single_gain == single and plan.gain >= single  # never worse than one threshold for all


def test_what_each_segment_gets_under_a_plan_adds_up_to_the_plan(channels):
    """The single threshold's actions are 10,000 x the share of rows it flags (SCENARIO states no prevalence), and
    each segment's actions and caught under a plan are its flagged rows and frauds scaled the same way."""
    y, s, channel, _, counts = channels
    segments = segment_counts(counts, "channel")
    per_row = 10_000 / len(y)
    budget = single_threshold_actions(segments, THRESHOLD, scenario=SCENARIO)
    assert budget == pytest.approx(per_row * (s >= THRESHOLD).sum())
    plan = capacity_plan(segments, actions=budget, scenario=SCENARIO, threshold=THRESHOLD)
    figures = plan_outcomes(plan, segments, scenario=SCENARIO)
    assert sum(f["own"]["actions"] for f in figures.values()) == pytest.approx(plan.actions)
    assert plan.actions <= budget * (1 + 1e-12) and plan.gain >= plan.single_gain
    assert sum(f["single"]["actions"] for f in figures.values()) == pytest.approx(plan.single_actions)
    assert plan.single_actions == pytest.approx(budget)
    # nothing is worth anything when nothing is flagged (no value for missed or left alone): value is the gain
    assert sum(f["own"]["value"] for f in figures.values()) == pytest.approx(plan.gain)
    assert sum(f["single"]["value"] for f in figures.values()) == pytest.approx(plan.single_gain)
    for share in plan.shares:
        rows = channel == share.segment
        flagged = rows & (s >= share.threshold)
        assert figures[share.segment]["own"]["actions"] == pytest.approx(per_row * flagged.sum())
        assert figures[share.segment]["own"]["caught"] == pytest.approx(per_row * (flagged & (y == 1)).sum())
    plain = capacity_plan(segments, actions=100)
    assert single_threshold_actions(segments, THRESHOLD) == (s >= THRESHOLD).sum()
    for segment, f in plan_outcomes(plain, segments).items():
        flagged = (channel == segment) & (s >= plain.thresholds[segment])
        assert f["own"] == {"actions": flagged.sum(), "caught": (flagged & (y == 1)).sum(), "value": None}


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: segment_counts(c, "region"), "carry no key 'region'"),
    (lambda c: segment_report(c, "channel", threshold=0.5, min_items=-1), "must be 0 or more"),
    (lambda c: segment_report(c, "channel", threshold=0.5, confidence=1.5), "strictly between 0 and 1"),
    (lambda c: segment_gaps(c, "channel", threshold=0.5, reference="tablet", resamples=50), "'tablet' is not a"),
    (lambda c: segment_gaps(c, "channel", threshold=0.5, metrics=("auc",)), "unknown gap metric 'auc'"),
    (lambda c: capacity_plan(segment_counts(c, "channel")), "give the shared capacity"),
    (lambda c: capacity_plan(segment_counts(c, "channel"), actions=5, capacity_share=0.1), "not both"),
    (lambda c: capacity_plan(segment_counts(c, "channel"), capacity_share=2), "between 0 and 1"),
    (lambda c: capacity_plan({}, actions=5), "no segments"),
])
def test_bad_requests_say_what_to_do(channels, call, message):
    *_, counts = channels
    with pytest.raises(InputError, match=message):
        call(counts)


def test_a_segment_where_the_rule_catches_nothing_is_judged_on_the_other_criteria():
    """In the demo the amount rule catches no fraud in some merchant segments: 'caught at least 1.2 x the
    rule's' means nothing there, but recall still does; the segment is judged on it and says what it left out."""
    from pathlib import Path

    import pandas as pd

    from metricbridge.criteria import load_criteria
    from metricbridge.judge import decision_columns
    from metricbridge.loading import load_predictions
    from metricbridge.scenario import load_scenario

    data = Path(__file__).resolve().parents[1] / "data"
    frame = pd.read_parquet(data / "fraud_transactions.parquet")
    caught_by_rule = frame[(frame["rule_flag"] == 1) & (frame["is_fraud"] == 1)].groupby("merchant_segment").size()
    without = sorted(set(frame["merchant_segment"]) - set(caught_by_rule.index))
    assert without  # the demo has such segments
    scenario, criteria = load_scenario(data / "scenarios" / "demo_fraud.yaml"), load_criteria(
        data / "criteria" / "demo_fraud.yaml")
    counts = load_predictions(data / "fraud_transactions.parquet", scores=["score_gbm"]).counts(
        "score_gbm", keys=["merchant_segment"], sums=scenario.value_columns, decisions=decision_columns(scenario))
    report = segment_report(counts, "merchant_segment", threshold=0.57, criteria=criteria, scenario=scenario,
                            resamples=200)
    for name in without:
        result = report.result(name)
        assert [c.relative_to for c in result.unjudged] == ["Amount rule"]
        judged = [v.criterion.metric for v in result.result.verdicts]
        assert judged == ["recall"] and result.status != NOT_JUDGED
        rows = frame[(frame["merchant_segment"] == name) & (frame["is_fraud"] == 1)]
        assert result.result.verdicts[0].value == pytest.approx((rows["score_gbm"] >= 0.57).mean())
        sentence = next(s for s in report.sentences() if f"'{name}'" in s)
        assert result.status in (FAIL, UNCERTAIN) or "not judged here" in sentence
    for name in set(caught_by_rule.index):
        assert report.result(name).unjudged == ()
