"""ScoreCounts and its builders: numpy and DuckDB agree, merging adds, cells are what they claim."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metricbridge import ScoreCounts, counts_from_arrays, curve_from_counts
from metricbridge.counts import CELL_FIELDS
from metricbridge.loading import BinLookup, builders, counts_from_table
from metricbridge.loading.builders import bin_edges, edges_for
from tests.conftest import predictions


def _table(frame: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute('CREATE TABLE "t" AS SELECT * FROM frame')
    return con


@given(predictions())
@settings(max_examples=40, deadline=None)
def test_duckdb_and_numpy_builders_give_the_same_cells(data):
    y, s, w = data
    rng = np.random.default_rng(len(y))
    rule = rng.integers(0, 2, len(y))
    amount = rng.exponential(100, len(y))
    frame = pd.DataFrame({"label": y, "score": s, "w": np.ones(len(y)) if w is None else w,
                          "rule": rule, "amount": amount})
    for mode in ("exact", "binned"):
        arrays = counts_from_arrays(y, s, sample_weight=frame["w"].to_numpy(), mode=mode, bins=20,
                                    keys={"rule": rule}, sums={"amount": amount})
        table = counts_from_table(_table(frame), "t", score="score", label_sql='"label"', weight="w",
                                  mode=mode, bins=20, keys=["rule"], sums=["amount"])
        assert arrays.mode == table.mode == mode
        for name in CELL_FIELDS:
            np.testing.assert_allclose(table.cell(name), arrays.cell(name), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(table.keys["rule"], arrays.keys["rule"])
        np.testing.assert_allclose(table.sums["amount"], arrays.sums["amount"], rtol=1e-12)


@given(predictions())
@settings(max_examples=40, deadline=None)
def test_cells_hold_what_a_direct_group_by_holds(data):
    y, s, w = data
    weights = np.ones(len(y)) if w is None else w
    counts = counts_from_arrays(y, s, sample_weight=w)
    expected = (pd.DataFrame({"s": s, "y": y, "w": weights}).groupby(["s", "y"])
                .agg(rows=("w", "size"), weight=("w", "sum")).reset_index())
    np.testing.assert_array_equal(counts.scores, expected["s"])
    np.testing.assert_array_equal(counts.labels, expected["y"])
    np.testing.assert_array_equal(counts.rows, expected["rows"])
    np.testing.assert_allclose(counts.weights, expected["weight"], rtol=1e-12)
    assert counts.n_rows == len(y) and counts.n == pytest.approx(weights.sum())


@given(predictions(min_size=4))
@settings(max_examples=30, deadline=None)
def test_counting_two_halves_and_merging_equals_counting_the_whole(data):
    y, s, w = data
    half = len(y) // 2
    first_w, second_w = (None, None) if w is None else (w[:half], w[half:])
    first = counts_from_arrays(y[:half], s[:half], sample_weight=first_w)
    second = counts_from_arrays(y[half:], s[half:], sample_weight=second_w)
    whole = counts_from_arrays(y, s, sample_weight=w)
    merged = first.merge(second)
    for name in CELL_FIELDS:
        np.testing.assert_allclose(merged.cell(name), whole.cell(name), rtol=1e-9, atol=1e-12)
    assert merged.score_min == whole.score_min and merged.score_max == whole.score_max


def test_binned_cells_are_keyed_by_bin_edges_that_are_real_scores():
    rng = np.random.default_rng(0)
    s = rng.beta(2, 5, 300_000)
    y = (rng.random(300_000) < s).astype(int)
    counts = counts_from_arrays(y, s, bins=500)  # auto: 300,000 distinct scores > 100,000
    assert counts.mode == "binned" and counts.bins == 500
    tenths = np.linspace(0, 1, 11)
    placed = np.r_[tenths, np.nextafter(tenths[1:-1], 2.0)]  # k/10 and the next double: calibration bins stay whole
    assert counts.cells <= 2 * (500 + len(placed))
    assert counts.scores.min() == s.min()
    interior = counts.scores[~np.isin(counts.scores, placed)]
    assert np.isin(interior, s).all()


def test_hard_decisions_are_recognised():
    counts = counts_from_arrays(np.array([0, 1, 1, 0]), np.array([0.0, 1.0, 1.0, 1.0]))
    assert counts.is_hard_decision
    assert not counts_from_arrays(np.array([0, 1]), np.array([0.2, 1.0])).is_hard_decision


def test_score_counts_refuses_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="shape"):
        ScoreCounts(scores=np.zeros(2), labels=np.zeros(2), rows=np.ones(3), weights=np.ones(2),
                    score_sums=np.zeros(2), brier_sums=np.zeros(2), log_loss_sums=np.zeros(2),
                    score_min=0.0, score_max=0.0)


def test_exact_cells_derive_their_raw_score_sums_and_binned_cells_must_store_them():
    rng = np.random.default_rng(8)
    y, s, w = rng.integers(0, 2, 500), rng.random(500).round(2), rng.uniform(0.5, 2, 500)
    exact = counts_from_arrays(y, s, sample_weight=w, mode="exact")
    assert exact.brier_sums is None  # not stored: 25 bytes a cell
    binned = counts_from_arrays(y, s, sample_weight=w, mode="binned", bins=10_000)  # bins finer than the scores
    for name in ("score_sums", "brier_sums", "log_loss_sums"):
        np.testing.assert_allclose(exact.raw_sum(name).sum(), binned.raw_sum(name).sum(), rtol=1e-12)
    with pytest.raises(ValueError, match="binned ScoreCounts need score_sums"):
        ScoreCounts(scores=np.zeros(1), labels=np.zeros(1), rows=np.ones(1), weights=np.ones(1), score_min=0.0,
                    score_max=0.0, mode="binned", bins=2)


# The O(1) bin lookup ------------------------------------------------------------------------------------------
def _bins_by_search(edges: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.searchsorted(edges, scores, side="right") - 1


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(st.lists(finite, min_size=1, max_size=60, unique=True), st.lists(finite, min_size=0, max_size=200),
       st.integers(0, 2**32 - 1))
@settings(max_examples=300, deadline=None)
def test_bin_lookup_is_searchsorted_on_any_edges_and_scores(edges, scores, seed):
    edges = np.sort(np.array(edges))
    rng = np.random.default_rng(seed)
    # scores exactly on edges, next to them (one ulp either side), and arbitrary ones
    on = rng.choice(edges, 50)
    with np.errstate(over="ignore"):  # the next float after the largest is infinite
        scores = np.r_[scores, on, np.nextafter(on, np.inf), np.nextafter(on, -np.inf), -np.inf, np.inf]
    np.testing.assert_array_equal(BinLookup(edges)(scores), _bins_by_search(edges, scores))


@pytest.mark.parametrize("case", [
    "quantiles", "on_edges", "ties", "outliers", "negative", "single", "huge_range", "tiny_spread", "far_from_zero",
    "dense_cluster", "two_edges",
])
def test_bin_lookup_is_searchsorted_on_adversarial_data(case):
    rng = np.random.default_rng(3)
    scores = {
        "quantiles": rng.normal(0.3, 0.15, 200_000).clip(0, 1),
        "on_edges": np.repeat(np.linspace(0, 1, 1001), 50),
        "ties": rng.choice([0.0, 0.25, 0.5, 1.0], 100_000),
        "outliers": np.r_[rng.random(100_000), -1e12, 3e15, 7e300],
        "negative": -rng.exponential(5, 100_000),
        "single": np.full(10_000, 0.42),
        "huge_range": np.r_[rng.uniform(-1e300, 1e300, 50_000), rng.random(50_000)],
        "tiny_spread": 0.5 + rng.random(100_000) * 1e-13,
        "far_from_zero": 1e15 + rng.integers(0, 1000, 100_000) * 0.125,
        "dense_cluster": np.r_[0.5 + rng.random(100_000) * 1e-9, rng.random(1_000)],
        "two_edges": rng.choice([1.0, 2.0], 1_000),
    }[case]
    sample = scores if len(scores) <= 200_000 else scores[:200_000]
    edges = bin_edges(sample, 10_000, low=float(scores.min()), high=float(scores.max()))
    with np.errstate(over="ignore"):
        probes = np.r_[scores, edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)]
    np.testing.assert_array_equal(BinLookup(edges)(probes), _bins_by_search(edges, probes))
    # the contract of a binned cell: every row of bin k holds edge_k <= score < edge_{k+1}, exactly
    bins = BinLookup(edges)(scores)
    assert (edges[bins] <= scores).all()
    assert (scores[bins < len(edges) - 1] < edges[bins[bins < len(edges) - 1] + 1]).all()


def _expected_binned(y, s, w, edges):
    """Binned cells the slow way: searchsorted, then a pandas group-by."""
    frame = pd.DataFrame({"bin": _bins_by_search(edges, s), "y": y, "w": w, "s": s})
    frame["ws"], frame["brier"] = frame["w"] * frame["s"], frame["w"] * (frame["y"] - frame["s"]) ** 2
    eps = np.finfo(np.float64).eps
    clipped = frame["s"].clip(eps, 1 - eps)
    frame["ll"] = frame["w"] * -np.log(np.where(frame["y"] == 1, clipped, 1 - clipped))
    return frame.groupby(["bin", "y"]).agg(rows=("w", "size"), weight=("w", "sum"), score_sums=("ws", "sum"),
                                          brier_sums=("brier", "sum"), log_loss_sums=("ll", "sum")).reset_index()


@pytest.mark.parametrize("weighted", [False, True])
def test_binned_counting_in_two_halves_matches_a_slow_group_by(weighted):
    rng = np.random.default_rng(11)
    n = (1 << 20) + 12_345  # above the size counted as two halves on two threads
    y = (rng.random(n) < 0.2).astype(np.int64)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    counts = counts_from_arrays(y, s, sample_weight=w if weighted else None, mode="binned", bins=2_000)
    edges = edges_for(y, s, 2_000)
    expected = _expected_binned(y, s, w, edges)
    np.testing.assert_array_equal(counts.scores, edges[expected["bin"]])
    np.testing.assert_array_equal(counts.labels, expected["y"])
    np.testing.assert_array_equal(counts.rows, expected["rows"])
    for name, column in [("weights", "weight"), ("score_sums", "score_sums"), ("brier_sums", "brier_sums"),
                         ("log_loss_sums", "log_loss_sums")]:
        np.testing.assert_allclose(counts.cell(name), expected[column], rtol=1e-10)


def _expected_moments(y, s, w, amount, rule, cell_score):
    """Per (cell score, label, rule): the sums of powers of the weights and weighted amounts, by pandas."""
    u = amount * (1.0 if w is None else w)
    frame = pd.DataFrame({"score": cell_score, "y": y, "rule": rule, "u": u, "u2": u * u, "u3": u ** 3})
    if w is not None:
        frame["w2"], frame["w3"], frame["wu"] = w * w, w ** 3, w * u
    return frame.groupby(["score", "y", "rule"]).sum().reset_index()


@pytest.mark.parametrize("many_keys", [False, True])
@given(data=predictions(min_size=5, max_size=400))
@settings(max_examples=25, deadline=None)
def test_cells_carry_the_sums_of_squares_and_cubes_of_their_rows(data, many_keys):
    """What the bootstrap resamples a cell's totals with, exactly as a group-by of the rows gives it, in exact
    and binned mode, with a key of two values or of many (binned cells then sorted out, not dense)."""
    y, s, w = data
    rng = np.random.default_rng(len(y))
    rule = rng.integers(0, 5000 if many_keys else 2, len(y))
    amount = rng.lognormal(3, 1, len(y))
    for mode in ("exact", "binned"):
        counts = counts_from_arrays(y, s, sample_weight=w, mode=mode, bins=10, keys={"rule": rule},
                                    sums={"amount": amount})
        cell_score = s
        if mode == "binned":
            edges = edges_for(y.astype(np.int8), s, 10)
            cell_score = edges[np.searchsorted(edges, s, side="right") - 1]
        expected = _expected_moments(y, s, w, amount, rule, cell_score)
        order = np.lexsort((counts.keys["rule"], counts.labels, counts.scores))
        np.testing.assert_array_equal(counts.scores[order], expected["score"])
        np.testing.assert_array_equal(counts.keys["rule"][order], expected["rule"])
        for got, column in [(counts.sums["amount"], "u"), (counts.squares["amount"], "u2"),
                            (counts.cubes["amount"], "u3")]:
            np.testing.assert_allclose(got[order], expected[column], rtol=1e-9)
        if w is None:
            assert counts.weight_squares is None and counts.weight_cubes is None and not counts.crosses
        else:
            for got, column in [(counts.weight_squares, "w2"), (counts.weight_cubes, "w3"),
                                (counts.crosses["amount"], "wu")]:
                np.testing.assert_allclose(got[order], expected[column], rtol=1e-9)


def test_two_halves_merged_carry_the_moments_of_the_whole():
    rng = np.random.default_rng(5)
    n = 3000
    y, s = rng.integers(0, 2, n), np.round(rng.random(n), 2)
    w, amount = rng.integers(1, 11, n).astype(float), rng.lognormal(3, 1, n)

    def count(part: slice) -> ScoreCounts:
        return counts_from_arrays(y[part], s[part], sample_weight=w[part], sums={"amount": amount[part]})

    whole, merged = count(slice(0, n)), count(slice(0, 1234)).merge(count(slice(1234, n)))
    np.testing.assert_array_equal(merged.scores, whole.scores)
    for name in ("weight_squares", "weight_cubes"):
        np.testing.assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-12)
    for moments in ("squares", "cubes", "crosses"):
        np.testing.assert_allclose(getattr(merged, moments)["amount"], getattr(whole, moments)["amount"], rtol=1e-12)


def test_a_value_column_may_be_named_like_the_weights():
    """Weight moments have fields of their own: a value column called "weights" is just a value column."""
    rng = np.random.default_rng(6)
    y, s, w = rng.integers(0, 2, 500), rng.random(500).round(2), rng.uniform(1, 3, 500)
    counts = counts_from_arrays(y, s, sample_weight=w, sums={"weights": np.full(500, 2.0)})
    assert counts.squares["weights"].sum() == pytest.approx(((2 * w) ** 2).sum())
    assert counts.weight_squares.sum() == pytest.approx((w * w).sum())


def test_one_thread_or_two_count_the_very_same_sums(monkeypatch):
    rng = np.random.default_rng(12)
    n = (1 << 20) + 999
    y, s, w = rng.integers(0, 2, n), rng.random(n), rng.uniform(0.5, 2.0, n)
    counted = []
    for threads in (1, 2):
        monkeypatch.setattr(builders, "_threads", lambda threads=threads: threads)
        counted.append(counts_from_arrays(y, s, sample_weight=w, mode="binned", sums={"amount": w * 3}))
    for name in CELL_FIELDS:
        np.testing.assert_array_equal(counted[0].cell(name), counted[1].cell(name))
    np.testing.assert_array_equal(counted[0].sums["amount"], counted[1].sums["amount"])


@given(predictions(max_size=400))
@settings(max_examples=40, deadline=None)
def test_exact_counting_without_weights_equals_the_weighted_path(data):
    y, s, _ = data
    plain = counts_from_arrays(y, s, mode="exact")  # the positives and negatives sorted apart
    weighted = counts_from_arrays(y, s, sample_weight=np.ones(len(y)), mode="exact")  # one argsort
    for name in CELL_FIELDS:
        np.testing.assert_allclose(plain.cell(name), weighted.cell(name), rtol=1e-12)


def test_many_key_values_are_counted_by_sorting_and_agree(monkeypatch):
    rng = np.random.default_rng(5)
    y, s, segment = rng.integers(0, 2, 5_000), rng.random(5_000), rng.integers(0, 50, 5_000)
    dense = counts_from_arrays(y, s, mode="binned", bins=40, keys={"segment": segment})
    monkeypatch.setattr(builders, "_DENSE_CELLS", 16)
    sorted_ = counts_from_arrays(y, s, mode="binned", bins=40, keys={"segment": segment})
    for name in CELL_FIELDS:
        np.testing.assert_allclose(sorted_.cell(name), dense.cell(name), rtol=1e-12)
    np.testing.assert_array_equal(sorted_.keys["segment"], dense.keys["segment"])


def test_text_keys_with_missing_values_count_like_numpy():
    frame = pd.DataFrame({"label": [0, 1, 1, 0, 1, 0], "score": [0.1, 0.9, 0.4, 0.4, 0.7, 0.2],
                          "segment": ["a", None, "b", "a", None, "b"]})
    table = counts_from_table(_table(frame), "t", score="score", label_sql='"label"', keys=["segment"])
    arrays = counts_from_arrays(frame["label"], frame["score"], keys={"segment": frame["segment"].to_numpy()})
    assert list(table.keys["segment"]) == list(arrays.keys["segment"])
    assert None in list(table.keys["segment"])
    np.testing.assert_array_equal(table.rows, arrays.rows)


def test_labels_must_be_zero_or_one():
    with pytest.raises(ValueError, match="0/1"):
        counts_from_arrays(np.array([0, 2]), np.array([0.1, 0.2]))


# Progress ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["exact", "binned"])
def test_counting_reports_progress_from_zero_to_one(mode):
    rng = np.random.default_rng(2)
    n = 3 * (1 << 17) + 7
    y, s = rng.integers(0, 2, n), rng.random(n)
    heard: list[tuple[float, str]] = []
    counts_from_table(_table(pd.DataFrame({"label": y, "score_gbm": s})), "t", score="score_gbm", label_sql='"label"',
                      mode=mode, progress=lambda fraction, what: heard.append((fraction, what)))
    fractions = [fraction for fraction, _ in heard]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(0.0 <= a <= b <= 1.0 for a, b in zip(fractions, fractions[1:], strict=False))
    assert {what for _, what in heard} == {"reading score_gbm", "counting score_gbm"}


@pytest.mark.parametrize("positives", [300, 20_000])
def test_binned_average_precision_with_rare_positives(positives):
    """Fewer positives than half the bins: each positive's score is an edge, and AP is exact (scikit-learn's);
    more: the positives place half the edges, and AP stays within 1% of its value at 1,000 bins (it was off by
    12% with edges from all scores' quantiles). The note says which holds."""
    from sklearn.metrics import average_precision_score

    from metricbridge.evaluate import binned_note
    from metricbridge.metrics import average_precision

    rng = np.random.default_rng(positives)
    n = 400_000
    y = np.zeros(n, dtype=np.int8)
    y[rng.choice(n, positives, replace=False)] = 1
    s = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.0 * y - 4)))
    counts = counts_from_arrays(y, s, mode="binned", bins=1000)
    binned, exact = average_precision(curve_from_counts(counts)), average_precision_score(y, s)
    if positives * 2 < 1000:
        assert binned == pytest.approx(exact, rel=1e-12)
        assert "average precision is exact" in binned_note("score", counts)
    else:
        assert binned == pytest.approx(exact, rel=0.01) and binned != pytest.approx(exact, rel=1e-6)
        assert "within 1% of its value" in binned_note("score", counts)


@given(predictions(max_size=300), st.sampled_from(["exact", "binned"]))
@settings(max_examples=30, deadline=None)
def test_the_cells_of_each_key_value_are_the_counts_of_its_rows(data, mode):
    """select(): a segment's cells count exactly what counting its rows alone counts (same edges in binned
    mode, so compared on the whole's cells), and the segments add up to the whole."""
    y, s, w = data
    group = np.random.default_rng(len(y)).integers(0, 3, len(y))
    whole = counts_from_arrays(y, s, sample_weight=w, mode=mode, bins=10, keys={"g": group}, sums={"a": s * 7})
    total_rows = 0
    for value in range(3):
        part = whole.select(whole.keys["g"] == value)
        rows = group == value
        total_rows += part.n_rows
        assert part.n_rows == rows.sum()
        assert part.n == pytest.approx(rows.sum() if w is None else w[rows].sum())
        assert part.sums["a"].sum() == pytest.approx((s * 7 * (1 if w is None else w))[rows].sum())
        if rows.any() and mode == "exact":
            alone = counts_from_arrays(y[rows], s[rows], sample_weight=None if w is None else w[rows])
            threshold = float(np.median(s[rows]))
            assert curve_from_counts(part).at(threshold)["tp"] == pytest.approx(
                curve_from_counts(alone).at(threshold)["tp"])
            assert (part.score_min, part.score_max) == (s[rows].min(), s[rows].max())
    assert total_rows == whole.n_rows


@given(st.lists(st.integers(0, 3_000_000), min_size=1, max_size=300), st.booleans())
def test_distinct_codes_are_numpys_unique_whether_counted_or_sorted(values, small):
    from metricbridge.counts import distinct_codes, value_codes

    codes = np.asarray(values, dtype=np.int64) % (50 if small else 3_000_001)
    unique, inverse = distinct_codes(codes)
    expected_unique, expected_inverse = np.unique(codes, return_inverse=True)
    assert np.array_equal(unique, expected_unique) and np.array_equal(inverse, expected_inverse.reshape(-1))
    text = np.array([f"s{v % 7}" for v in values] + [None], dtype=object)
    ranks, found = value_codes(text)
    assert found[-1] is None and ranks[-1] == len(found) - 1  # a missing value sorts last, as None
    expected_found, expected_ranks = np.unique(text[:-1].astype(str), return_inverse=True)
    assert list(found[:-1]) == list(expected_found) and np.array_equal(ranks[:-1], expected_ranks.reshape(-1))
    mixed, found = value_codes(np.array(["b", 2, "b", None, 2.0], dtype=object))  # text beside numbers
    assert mixed[0] == mixed[2] != mixed[1] == mixed[4] and found[mixed[3]] is None and found[mixed[0]] == "b"
