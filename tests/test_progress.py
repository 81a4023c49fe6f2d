"""Progress per run and the plateau signal, on runs kept in a real store."""

from __future__ import annotations

import datetime as dt

import pytest

from metricbridge.progress import plateau, progress_frame
from metricbridge.store import RunRecord


def _run(index: int, recall: float, half_width: float, verdict: str = "fail") -> RunRecord:
    summary = {"criteria": {"name": "Go", "version": 1, "met": verdict == "pass", "verdicts": [
        {"metric": "recall", "comparison": "at_least", "target": 0.8, "value": recall, "probability": 0.2,
         "verdict": verdict, "labels_needed": None},
        {"metric": "actions", "comparison": "at_most", "target": 300, "value": 250, "probability": 1.0,
         "verdict": "pass", "labels_needed": None}]},
        "intervals": {"recall": [recall - half_width, recall + half_width], "actions": [240, 260]}}
    return RunRecord(id=f"r{index}", project="p", name=f"week {index}", model="m", dataset_hash="h",
                     created_at=dt.datetime(2026, 11, 1) + dt.timedelta(days=7 * index), created_by="a", note=None,
                     summary=summary)


def test_the_progress_frame_has_one_row_per_run_and_criterion():
    frame = progress_frame([_run(1, 0.6, 0.05), _run(2, 0.65, 0.05)])
    assert len(frame) == 4 and set(frame["metric"]) == {"recall", "actions"}
    row = frame[(frame["run"] == "week 2") & (frame["metric"] == "recall")].iloc[0]
    assert [row["value"], row["low"], row["high"], row["target"]] == pytest.approx([0.65, 0.6, 0.7, 0.8])
    assert row["criteria"] == "Go v1"


def test_runs_that_do_not_move_beyond_their_intervals_are_a_plateau():
    stuck = plateau(progress_frame([_run(1, 0.60, 0.05), _run(2, 0.62, 0.05), _run(3, 0.63, 0.05)]))
    assert stuck is not None and stuck.stalled
    assert "have not moved" in stuck.message and "recall 0.6 → 0.63" in stuck.message


def test_runs_that_move_a_failing_criterion_are_not_a_plateau():
    moving = plateau(progress_frame([_run(1, 0.50, 0.03), _run(2, 0.60, 0.03), _run(3, 0.70, 0.03)]))
    assert moving is not None and not moving.stalled


def test_no_signal_with_too_few_runs_or_nothing_failing():
    assert plateau(progress_frame([_run(1, 0.5, 0.05), _run(2, 0.5, 0.05)])) is None
    assert plateau(progress_frame([_run(i, 0.9, 0.01, "pass") for i in range(1, 4)])) is None
