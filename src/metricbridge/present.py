"""What a stakeholder reads: natural frequencies in the scenario's words, a rating, and 1,000 squares.

Every sentence is written from the figures (nothing typed in by hand), at the deployment's prevalence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metricbridge.counts import ScoreCounts
from metricbridge.evaluate import EvaluationReport
from metricbridge.judge import CriteriaResult
from metricbridge.narrative import plural
from metricbridge.outcomes import Outcomes
from metricbridge.scenario import Scenario

__all__ = ["PER", "Rating", "rating", "per_thousand", "icon_counts", "icon_frame", "summary_sentences",
           "verdict_line", "plain_verdict_line", "threshold_for_actions", "REVIEW_LEVELS"]

PER = 1000
REVIEW_LEVELS = {"far fewer": 0.5, "fewer": 0.75, "as agreed": 1.0, "more": 1.25, "far more": 1.5}


@dataclass(frozen=True, slots=True)
class Rating:
    label: str | None  # None: no criteria agreed yet
    explanation: str


def rating(result: CriteriaResult | None) -> Rating:
    """Ready to pilot (every criterion passes), Promising (none fails, some uncertain), Not yet (any fails);
    derived from the verdicts only."""
    if result is None:
        return Rating(None, "No success criteria are agreed yet: agree what 'good enough' means first, then "
                            "this page says whether the model is there.")
    verdicts = [v.verdict for v in result.verdicts]
    if all(v == "pass" for v in verdicts):
        return Rating("Ready to pilot", "Every agreed criterion is met, with the agreed certainty.")
    if "fail" not in verdicts:
        return Rating("Promising", "No agreed criterion fails, but the test set is too small to be sure of some.")
    return Rating("Not yet", "At least one agreed criterion is not met.")


def _largest_remainder(shares: dict[str, float], total: int) -> dict[str, int]:
    """Whole numbers that add up to ``total`` (largest remainder method)."""
    raw = {k: max(0.0, v) for k, v in shares.items()}
    scale = sum(raw.values())
    exact = {k: (v / scale * total if scale else 0.0) for k, v in raw.items()}
    floors = {k: math.floor(v) for k, v in exact.items()}
    left = total - sum(floors.values())
    for key in sorted(exact, key=lambda k: exact[k] - floors[k], reverse=True)[:left]:
        floors[key] += 1
    return floors


def per_thousand(outcomes: Outcomes, threshold: float) -> dict[str, float]:
    """The outcomes of ``PER`` items at the deployment's prevalence (not rounded)."""
    point = outcomes.at(threshold)
    total = point["caught"] + point["missed"] + point["false_alarms"] + point["left_alone"]
    factor = PER / total if total else 0.0
    return {key: point[key] * factor for key in ("caught", "missed", "false_alarms", "left_alone")}


def icon_counts(outcomes: Outcomes, threshold: float) -> dict[str, int]:
    """Whole squares out of 1,000 for each outcome, adding up to exactly 1,000."""
    return _largest_remainder(per_thousand(outcomes, threshold), PER)


def icon_frame(counts: dict[str, int], *, positive: str, columns: int = 40) -> pd.DataFrame:
    """One row per square: its grid position and what it stands for, in reading order."""
    words = {"caught": f"{positive} caught", "missed": f"{positive} missed", "false_alarms": "false alarm",
             "left_alone": "correctly left alone"}
    kinds = [words[key] for key in ("caught", "missed", "false_alarms", "left_alone") for _ in range(counts[key])]
    index = np.arange(len(kinds))
    return pd.DataFrame({"column": index % columns, "row": index // columns, "outcome": kinds})


def _overlap(counts: ScoreCounts, threshold: float, column: str) -> dict[str, float] | None:
    """Shares of positives the model and a recorded status quo catch and miss together."""
    if column not in counts.keys:
        return None
    positive = counts.labels == 1
    weight = counts.weights[positive]
    total = weight.sum()
    if total <= 0:
        return None
    model = counts.scores[positive] >= threshold
    rule = counts.keys[column][positive] == 1
    return {"both_miss": weight[~model & ~rule].sum() / total, "only_model": weight[model & ~rule].sum() / total,
            "only_rule": weight[~model & rule].sum() / total}


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or float(value).is_integer() else f"{value:.1f}"


def summary_sentences(report: EvaluationReport, model: str, threshold: float) -> list[str]:
    """Natural frequencies in the scenario's words: what happens to every 1,000 items."""
    scenario = report.scenario
    if scenario is None:
        return []
    counts = per_thousand(report.outcomes[model], threshold)
    flagged = counts["caught"] + counts["false_alarms"]
    item, positive, action = scenario.item, scenario.positive, scenario.action
    sentences = [f"Out of every {PER:,} {plural(item)}, the model sends {_n(flagged)} to {action}; "
                 f"{_n(counts['caught'])} of them {'is' if round(counts['caught']) == 1 else 'are'} "
                 f"{plural(positive, counts['caught'])}. It misses {_n(counts['missed'])} "
                 f"{plural(positive, counts['missed'])}."]
    positives = counts["caught"] + counts["missed"]
    for entry in scenario.status_quo:
        if entry.column is None:
            continue
        shares = _overlap(report.model(model).counts, threshold, entry.column)
        if shares is None:
            continue
        sentences.append(
            f"Of those misses, {_n(shares['both_miss'] * positives)} would be missed by the {entry.name.lower()} "
            f"too; the model catches {_n(shares['only_model'] * positives)} {plural(positive)} the "
            f"{entry.name.lower()} misses, and misses {_n(shares['only_rule'] * positives)} it catches.")
    return sentences


def verdict_line(result: CriteriaResult | None) -> str:
    """'Meets 3 of 4 agreed criteria; recall is uncertain: about 400 more labelled items would settle it'."""
    if result is None:
        return "No success criteria agreed yet."
    passing = sum(v.verdict == "pass" for v in result.verdicts)
    line = f"Meets {passing} of {len(result.verdicts)} agreed criteria"
    others = []
    for verdict in result.verdicts:
        if verdict.verdict == "pass":
            continue
        state = "not met" if verdict.verdict == "fail" else "uncertain"
        text = f"{verdict.criterion.metric.replace('_', ' ')} is {state}"
        if verdict.labels_needed:
            text += f": about {verdict.labels_needed:,} more labelled items would settle it"
        others.append(text)
    return line + ("; " + "; ".join(others) if others else "") + "."


def plain_verdict_line(result: CriteriaResult | None, *, item: str = "item") -> str:
    """The verdict line without any metric's name: for readers who did not set the criteria."""
    if result is None:
        return "No success criteria agreed yet."
    verdicts = result.verdicts
    passing = sum(v.verdict == "pass" for v in verdicts)
    failing = sum(v.verdict == "fail" for v in verdicts)
    unsure = [v for v in verdicts if v.verdict == "uncertain"]
    line = f"Meets {passing} of {len(verdicts)} agreed criteria"
    if failing:
        line += f"; {failing} {'is' if failing == 1 else 'are'} not met"
    if unsure:
        needed = max((v.labels_needed or 0) for v in unsure)
        line += f"; {len(unsure)} {'is' if len(unsure) == 1 else 'are'} not yet certain"
        if needed:
            line += f": about {needed:,} more checked {plural(item)} would settle it"
    return line + "."


def threshold_for_actions(outcomes: Outcomes, actions: float) -> float:
    """The threshold whose actions per period come closest to ``actions`` (flag-nothing excluded)."""
    index = 1 + int(np.argmin(np.abs(outcomes.actions[1:] - actions)))
    return float(outcomes.thresholds[index])


# -- per-segment thresholds under a shared capacity ---------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class SharedCapacity:
    """Per-segment thresholds against one threshold for all, as the CLI prints them and the app shows them:
    ``entry`` (JSON-ready, its "segments" rows a table), ``lines`` (the text table) and ``sentences`` (the
    comparison in words, and a note when the single threshold exceeds the capacity)."""

    entry: dict[str, Any]
    lines: list[str]
    sentences: tuple[str, ...]


def shared_capacity(counts: ScoreCounts, column: str, *, scenario: Scenario | None,
                    threshold: float) -> SharedCapacity:
    """Per-segment thresholds under the shared capacity (the scenario's, else the single threshold's actions),
    against ``threshold`` for every segment: the JSON entry and the text lines."""
    from metricbridge.evaluate import json_ready
    from metricbridge.narrative import money, number, plural
    from metricbridge.segments import (
        capacity_plan,
        plan_outcomes,
        segment_counts,
        segment_label,
        single_threshold_actions,
    )

    parts = segment_counts(counts, column)
    capacity = scenario.capacity if scenario is not None else None
    budget = float(capacity) if capacity is not None else single_threshold_actions(parts, threshold, scenario=scenario)
    plan = capacity_plan(parts, actions=budget, scenario=scenario, threshold=threshold)
    figures = plan_outcomes(plan, parts, scenario=scenario)
    totals = {side: {name: sum(f[side][name] or 0.0 for f in figures.values())
                     for name in ("actions", "caught", "value")} for side in ("own", "single")}
    rows = [{"segment": share.segment, "threshold": share.threshold, **figures[share.segment]["own"],
             "gain": share.gain, **{f"single_{k}": v for k, v in figures[share.segment]["single"].items()},
             "single_gain": share.single_gain} for share in plan.shares]
    entry = json_ready({
        "budget": plan.budget, "budget_source": "scenario capacity" if capacity is not None else "single threshold",
        "measure": plan.measure, "period": plan.period, "single_threshold": plan.single_threshold,
        "actions": plan.actions, "caught": totals["own"]["caught"],
        "value": totals["own"]["value"] if scenario is not None else None, "gain": plan.gain,
        "single_actions": plan.single_actions, "single_caught": totals["single"]["caught"],
        "single_value": totals["single"]["value"] if scenario is not None else None, "single_gain": plan.single_gain,
        "segments": rows})  # a threshold of null flags none of its segment
    unit = f"{plural(scenario.action)} per {scenario.period}" if scenario is not None else "flagged items of the data"

    def worth(value: float | None) -> str:
        return "n/a" if scenario is None or value is None else money(value, scenario.currency)

    source = ("the scenario's capacity" if capacity is not None else
              "the scenario sets no capacity, so the budget is what the single threshold takes" if scenario else
              "no scenario, so no capacity: the budget is what the single threshold flags")
    lines = [f"Per-segment thresholds under a shared {number(round(plan.budget, 1))} {unit} ({source}), against "
             f"{plan.single_threshold:.6g} for every segment:"]
    width = max(7, *(len(segment_label(share.segment)) for share in plan.shares))
    lines.append(f"  {'segment':<{width}} {'threshold':>10} {'actions':>9} {'caught':>8} {'value':>14}  |"
                 f"  {'single: actions':>15} {'caught':>8} {'value':>14}")

    def row(label: str, threshold_text: str, own: dict[str, Any], single: dict[str, Any]) -> str:
        return (f"  {label:<{width}} {threshold_text:>10} {own['actions']:>9,.1f} {own['caught']:>8,.1f} "
                f"{worth(own['value']):>14}  |  {single['actions']:>15,.1f} {single['caught']:>8,.1f} "
                f"{worth(single['value']):>14}")

    for share in plan.shares:
        shown = f"{share.threshold:.4g}" if math.isfinite(share.threshold) else "flag none"
        lines.append(row(segment_label(share.segment), shown, figures[share.segment]["own"],
                         figures[share.segment]["single"]))
    lines.append(row("total", "", totals["own"], totals["single"]))
    positives = plural(scenario.positive) if scenario is not None else "positives"
    gained = (f"value {money(plan.gain - plan.single_gain, scenario.currency, signed=True)} per {scenario.period}, "
              if scenario is not None else "")
    lines.append(f"  Against the single threshold: {gained}{number(round(totals['own']['caught'], 1))} {positives} "
                 f"caught instead of {number(round(totals['single']['caught'], 1))}, for "
                 f"{number(round(plan.actions, 1))} {unit} instead of {number(round(plan.single_actions, 1))}.")
    if plan.single_actions > plan.budget * (1 + 1e-9):
        lines.append(f"  note: the single threshold takes {number(round(plan.single_actions, 1))} {unit}, more than "
                     "the capacity: the per-segment thresholds keep within it, so they may gain less.")
    return SharedCapacity(entry=entry, lines=lines, sentences=tuple(line.strip() for line in lines[-2:]
                          if line.strip().startswith(("Against", "note:"))))
