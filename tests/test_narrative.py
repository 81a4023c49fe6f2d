"""Plain-language text uses the glossary's words and the figures it is given."""

from __future__ import annotations

import math

import numpy as np

from metricbridge import counts_from_arrays, evaluate_counts
from metricbridge.narrative import confusion_sentence, model_summary, number, percent


def test_numbers_read_well():
    assert number(1234.0) == "1,234" and number(1234.5) == "1,234.5" and number(math.nan) == "n/a"
    assert percent(0.1234) == "12.3%" and percent(None) == "n/a"


def test_the_sentence_says_caught_missed_and_false_alarms():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.1, 0.3, 0.2])
    model = evaluate_counts("m", counts_from_arrays(y, s), threshold=0.5)
    sentence = confusion_sentence(model.at_threshold, positives=3)
    assert sentence.startswith("flags 3 items (37.5%): catches 2 of 3 positives (recall 66.7%) with 1 false alarms")
    assert "misses 1, and correctly leaves alone 4." in sentence
    assert "ROC AUC 0.833" in model_summary(model)  # 12.5 of 15 pairs in order, by hand
