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


def test_pending_windows_are_flagged_when_the_latest_labelled_windows_are_poorly_calibrated(report):
    """The reference (weeks 1-4) is calibrated; in week 6 the positives score lower than their chance, so the
    estimates of weeks 7-8 are flagged, naming week 6 and by how much, though the reference alone passes."""
    result, (y, s, week) = report
    for window in (w for w in result.windows if not w.labelled):
        estimate = window.estimate
        assert estimate is not None and estimate.calibration.good
        assert list(estimate.recent_calibration) == ["Week 5", "Week 6"]  # the two labelled windows before
        assert estimate.recent_calibration["Week 5"].good and not estimate.recent_calibration["Week 6"].good
        assert not estimate.reliable
        assert estimate.warning is not None and "recent labelled window Week 6" in estimate.warning
        assert "how scores relate to outcomes has changed since" in estimate.warning
        out = window.to_dict()
        assert out["estimate_reliable"] is False and out["estimate_warning"] == estimate.warning
        assert out["calibration"]["recent"]["Week 6"]["verdict"] == "poor"
        assert out["calibration"]["reference"]["verdict"] == "good"
    sixth = week == 5  # Week 6's own rows: its observed positives and the recall its labels say
    check = result.windows[-1].estimate.recent_calibration["Week 6"]
    assert check.observed == y[sixth].sum() and check.recalls[1] == pytest.approx(np.mean(s[sixth & (y == 1)] >= 0.5))
    assert all(w.to_dict()["estimate_reliable"] is None for w in result.windows if w.labelled)
    assert "the estimate is unreliable" in result.latest()
    counts = counts_from_arrays(y, s, keys={"week": week})
    reference_only = monitor(counts, "week", threshold=0.5,
                             labelled=lambda w: w not in PENDING, resamples=100, recent_windows=0)
    assert all(w.estimate.reliable for w in reference_only.windows if not w.labelled)
    from metricbridge.errors import InputError

    with pytest.raises(InputError, match="recent_windows must be a whole number of at least 0"):
        monitor(counts, "week", threshold=0.5, labelled=lambda w: True, recent_windows=-1)


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


def test_the_command_line_offers_the_windows_the_core_counts():
    from metricbridge import cli
    from metricbridge.monitor import WINDOWS

    assert cli.WINDOWS == WINDOWS


def test_other_drift_thresholds_judge_the_same_figures_as_a_new_run_would(report):
    """with_drift_thresholds re-judges without measuring again: the same drifted windows and alerts as
    monitoring again with those thresholds."""
    from metricbridge.drift import DriftThresholds

    result, (y, s, week) = report
    strict = DriftThresholds(psi=0.01, ks_p_value=None, prevalence_change=0.01)
    again = monitor(counts_from_arrays(y, s, keys={"week": week}), "week", threshold=0.5,
                    labelled=lambda w: w not in PENDING, criteria=CRITERIA, resamples=300,
                    name=lambda w: f"Week {w + 1}", drift_thresholds=strict)
    rejudged = result.with_drift_thresholds(strict)
    assert [w.drift.reasons for w in rejudged.windows] == [w.drift.reasons for w in again.windows]
    assert rejudged.alerts == again.alerts
    assert [w.drift.reasons for w in rejudged.windows] != [w.drift.reasons for w in result.windows]
    assert [w.verdicts for w in rejudged.windows] == [w.verdicts for w in result.windows]


def test_the_chart_frame_holds_each_window_s_verdict_value_and_marks_estimates(report):
    from metricbridge import charts, views

    result, _ = report
    frame = charts.monitor_frame(result)
    assert len(frame) == len(result.windows)  # one criterion
    for window, row in zip(result.windows, frame.itertuples(), strict=True):
        assert row.estimated == (not window.labelled)
        assert row.verdict == window.verdicts["recall at least 0.3"].removeprefix("estimated ")
        assert row.value == pytest.approx(window.figures["recall"])
        assert row.low <= row.value <= row.high and row.target == 0.3
    table = views.windows_frame(result)
    assert list(table["labels"]).count("pending (estimated)") == len(PENDING)
    assert list(table["PSI"]) == [w.drift.psi for w in result.windows]
