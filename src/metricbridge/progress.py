"""Progress of a project: each criterion's figure per run, against its target, and whether it has stalled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from metricbridge.store import RunRecord

__all__ = ["progress_frame", "Plateau", "plateau", "verdicts_side_by_side"]


def progress_frame(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per (run, criterion) of runs judged against criteria: ``run``, ``created_at``, ``metric``,
    ``comparison``, ``value``, ``low``, ``high`` (the run's interval), ``target``, ``verdict``,
    ``probability``, ``criteria`` (name and version cited)."""
    rows = []
    for run in runs:
        block = run.summary.get("criteria")
        if not block:
            continue
        intervals = run.summary.get("intervals", {})
        for verdict in block["verdicts"]:
            low, high = intervals.get(verdict["metric"], [None, None])
            rows.append({"run": run.name, "run_id": run.id, "created_at": run.created_at,
                         "metric": verdict["metric"], "comparison": verdict["comparison"], "value": verdict["value"],
                         "low": low, "high": high, "target": verdict["target"], "verdict": verdict["verdict"],
                         "probability": verdict["probability"],
                         "criteria": f"{block['name']} v{block['version']}"})
    columns = ["run", "run_id", "created_at", "metric", "comparison", "value", "low", "high", "target", "verdict",
               "probability", "criteria"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plateau:
    """Whether the last runs moved any failing criterion closer to its target beyond their intervals."""

    stalled: bool
    runs: int
    message: str


def _gap(value: float, target: float, comparison: str) -> float:
    """How far from meeting the target (0 when met)."""
    return max(0.0, target - value) if comparison == "at_least" else max(0.0, value - target)


def plateau(frame: pd.DataFrame, *, last: int = 3) -> Plateau | None:
    """Over the ``last`` runs: a failing criterion has moved when its gap to the target shrank by more than
    the half-width of the latest interval. Stalled when none moved; None with fewer runs or nothing failing."""
    order = frame.drop_duplicates("run_id").sort_values("created_at")["run_id"].tolist()
    if len(order) < last:
        return None
    recent = frame[frame["run_id"].isin(order[-last:])]
    latest = recent[recent["run_id"] == order[-1]]
    failing = latest[latest["verdict"] != "pass"]
    if failing.empty:
        return None
    words, moved = [], False
    for row in failing.itertuples():
        history = recent[recent["metric"] == row.metric].sort_values("created_at")
        first = history.iloc[0]
        if first.value is None or row.value is None:
            continue
        improvement = _gap(first.value, first.target, first.comparison) - _gap(row.value, row.target, row.comparison)
        noise = (row.high - row.low) / 2 if row.low is not None and row.high is not None else 0.0
        moved |= improvement > noise
        words.append(f"{row.metric.replace('_', ' ')} {first.value:.4g} → {row.value:.4g} (±{noise:.2g}, target "
                     f"{row.target:.4g})")
    if moved:
        return Plateau(stalled=False, runs=last, message=f"The last {last} runs moved a failing criterion closer to "
                       "its target: " + "; ".join(words) + ".")
    return Plateau(stalled=True, runs=last, message=(
        f"The last {last} runs have not moved any failing criterion closer to its target beyond their intervals: "
        + "; ".join(words) + ". Decide whether to keep going (a new idea, more data) or stop."))


def verdicts_side_by_side(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per criterion, one column per run: its verdict, value and probability in a cell."""
    frame = progress_frame(runs)
    if frame.empty:
        return frame
    frame["cell"] = frame.apply(lambda row: f"{row['verdict']}: {row['value']:.4g} ({row['probability']:.0%})"
                                if row["value"] is not None else row["verdict"], axis=1)
    frame["criterion"] = frame["metric"] + " " + frame["comparison"].str.replace("_", " ") + " " + frame[
        "target"].map(lambda t: f"{t:.4g}")
    return frame.pivot_table(index="criterion", columns="run", values="cell", aggfunc="last").reset_index()
