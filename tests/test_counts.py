"""ScoreCounts and its builders: numpy and DuckDB agree, merging adds, cells are what they claim."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from metricbridge import ScoreCounts, counts_from_arrays
from metricbridge.counts import CELL_FIELDS
from metricbridge.loading import counts_from_table
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
    assert counts.cells <= 2 * (500 + 11)
    assert counts.scores.min() == s.min()
    interior = counts.scores[~np.isin(counts.scores, np.linspace(0, 1, 11))]
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
