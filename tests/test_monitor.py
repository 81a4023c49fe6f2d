"""Monitoring: each window judged as its own rows would be, recall falling after week 5 raises an alert at
the first window it fails, windows without labels are estimated and marked, drift is found where planted."""

from __future__ import annotations

import numpy as np
import pytest

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.criteria import Criteria, Criterion
from metricbridge.monitor import monitor

WEEKS = 8
PENDING = (6, 7)  # the last two weeks: labels not in yet


def _weeks(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calibrated scores; from week 5 the positives score lower (recall at 0.5 falls) and the mix shifts."""
    rng = np.random.default_rng(seed)
    week = np.repeat(np.arange(WEEKS), 3000)
    shift = np.where(week >= 5, 1.2, 0.0)
    logit = rng.normal(-1.5 - 0.3 * shift, 1.4, len(week))
    s = 1 / (1 + np.exp(-logit))
    y = (rng.random(len(week)) < s).astype(np.int8)
    s = np.where((week >= 5) & (y == 1), s * 0.6, s)  # the model misses more positives after week 4
    y[np.isin(week, PENDING)] = 0  # unknown: counted as 0, the window marked unlabelled
    return y, np.round(s, 4), week


CRITERIA = Criteria(name="m", version=1, criteria=(Criterion(metric="recall", comparison="at_least", bound=0.3),))


@pytest.fixture(scope="module")
def report():
    y, s, week = _weeks()
    counts = counts_from_arrays(y, s, keys={"week": week})
    return monitor(counts, "week", threshold=0.5, labelled=lambda w: w not in PENDING, criteria=CRITERIA,
                   resamples=300, name=lambda w: f"Week {w + 1}"), (y, s, week)


def test_each_labelled_window_has_the_figures_of_its_rows_alone(report):
    result, (y, s, week) = report
    for window in result.windows:
        if window.labelled:
            rows = week == window.window
            alone = curve_from_counts(counts_from_arrays(y[rows], s[rows])).at(0.5)
            assert window.figures["recall"] == pytest.approx(alone["recall"])
            assert window.rows == rows.sum()


def test_recall_falling_raises_an_alert_at_the_first_failing_window(report):
    result, _ = report
    verdicts = [w.verdicts["recall at least 0.3"] for w in result.windows]
    assert verdicts[:5] == ["pass"] * 5 and verdicts[5] in ("fail", "uncertain")
    assert any(alert.startswith("Week 6: recall at least 0.3 turned from pass to") for alert in result.alerts)
    assert result.alerted


def test_windows_without_labels_are_estimated_and_say_so(report):
    result, _ = report
    pending = [w for w in result.windows if not w.labelled]
    assert [w.window for w in pending] == list(PENDING)
    for window in pending:
        assert window.verdicts["recall at least 0.3"].startswith("estimated ")
        assert window.prevalence is None and window.estimate is not None
        assert "calibrated" in window.estimate.assumption
        low, high = window.intervals["recall"]
        assert low <= window.figures["recall"] <= high
    latest = result.latest()
    assert latest.startswith("Week 8: recall estimated") and "labels pending" in latest
    assert result.to_dict()["windows"][-1]["estimated"] is True


def test_drift_is_found_after_the_shift_and_not_before(report):
    result, _ = report
    drifted = [w.drift.drifted for w in result.windows]
    assert not any(drifted[:4]) and all(drifted[5:])
    assert "first 4 labelled windows" in result.reference


def test_a_key_the_counts_do_not_carry_is_refused():
    from metricbridge.errors import InputError

    counts = counts_from_arrays(np.array([0, 1]), np.array([0.2, 0.8]))
    with pytest.raises(InputError, match="no key 'week'"):
        monitor(counts, "week", threshold=0.5, labelled=lambda w: True)
