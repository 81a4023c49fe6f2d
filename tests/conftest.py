"""Shared test helpers: random predictions with ties and weights, the reference library's figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

from metricbridge import counts_from_arrays, curve_from_counts


@st.composite
def predictions(draw, *, min_size: int = 2, max_size: int = 300, weighted: bool | None = None,
                both_classes: bool = True):
    """(y, s, w): 0/1 labels, probability scores with many ties, optional positive weights."""
    n = draw(st.integers(min_size, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    decimals = draw(st.sampled_from([1, 2, 3, 8]))  # few decimals = many ties
    s = np.round(rng.random(n), decimals)
    y = (rng.random(n) < rng.uniform(0.05, 0.95)).astype(np.int64)
    if both_classes:
        y[0], y[1] = 0, 1
    use_weights = draw(st.booleans()) if weighted is None else weighted
    w = rng.uniform(0.1, 5.0, n) if use_weights else None
    return y, s, w


@pytest.fixture
def curve_of():
    def build(y, s, w=None, **kwargs):
        return curve_from_counts(counts_from_arrays(y, s, sample_weight=w, **kwargs))
    return build
