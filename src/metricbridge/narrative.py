"""Plain-language text for people: counts in words, figures rounded for reading (JSON keeps them raw)."""

from __future__ import annotations

import math
from typing import Any

from metricbridge.evaluate import EvaluationReport
from metricbridge.judge import CriteriaResult, Verdict
from metricbridge.metrics import Evaluation
from metricbridge.scenario import Scenario

__all__ = [
    "number", "percent", "figure", "money", "plural", "count_of", "confusion_sentence", "model_summary",
    "outcome_sentence", "difference_sentence", "report_text", "go_no_go", "amount", "run_figures",
    "compare_runs_text",
]


def number(value: float | None) -> str:
    """A count for reading: 1,234 (or 1,234.5 for weighted counts); n/a when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def figure(value: float | None, digits: int = 3) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


def plural(noun: str, count: float = 2.0) -> str:
    """English plural of the last word, for the scenario's nouns (fraud -> frauds, query -> queries)."""
    if abs(count) == 1 or not noun:
        return noun
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def count_of(value: float, noun: str) -> str:
    """'1 fraud', '128 frauds', '2.5 frauds': per-period counts are expected values, so keep one decimal
    below ten where it matters."""
    shown = f"{value:,.1f}" if abs(value) < 10 and not float(value).is_integer() else f"{value:,.0f}"
    return f"{shown} {plural(noun, value if shown != '1' else 1)}"


def money(value: float, currency: str | None, *, signed: bool = False) -> str:
    sign = "+" if signed and value > 0 else ("-" if value < 0 else "")
    return f"{sign}{abs(value):,.0f}{' ' + currency if currency else ''}"


def outcome_sentence(point: dict[str, Any], scenario: Scenario) -> str:
    """One period of deployment in the scenario's words."""
    s = scenario
    positives = point["caught"] + point["missed"]
    caught = count_of(point["caught"], s.positive).split(" ")[0]
    text = (f"Per {s.period}, it catches {caught} of {count_of(positives, s.positive)} and misses "
            f"{count_of(point['missed'], '').strip()}, with {count_of(point['false_alarms'], 'false alarm')}: "
            f"{count_of(point['actions'], s.action)}")
    if point["hours"]:
        text += f" ({number(round(point['hours']))} hours)"
    if s.capacity is not None and point["actions"] > s.capacity:
        text += f", more than the capacity of {number(s.capacity)}"
    return (text + f". Value {money(point['value'], s.currency, signed=True)} per {s.period}; errors cost "
            f"{money(point['cost_of_errors'], s.currency)}.")


def difference_sentence(model: dict[str, Any], other: dict[str, Any], scenario: Scenario, *, name: str) -> str:
    """'38 more frauds caught a week, 12 fewer reviewer-hours, +9,100 USD than the amount rule'."""
    s = scenario
    caught = model["caught"] - other["caught"]
    hours = model["hours"] - other["hours"]
    parts = [f"{count_of(abs(caught), s.positive).replace(' ', ' more ' if caught >= 0 else ' fewer ', 1)} caught"]
    if model["hours"] or other["hours"]:
        parts.append(f"{number(round(abs(hours)))} {'more' if hours >= 0 else 'fewer'} hours of {s.action}")
    parts.append(f"{money(model['value'] - other['value'], s.currency, signed=True)}")
    return f"Against {name}: {', '.join(parts)} per {s.period}."


def confusion_sentence(point: dict[str, float], *, positives: float) -> str:
    """What flagging at this point means, in the glossary's words."""
    flagged = point["tp"] + point["fp"]
    return (f"flags {number(flagged)} items ({percent(point['flag_rate'])}): catches {number(point['tp'])} of "
            f"{number(positives)} positives (recall {percent(point['recall'])}) with {number(point['fp'])} false "
            f"alarms (precision {percent(point['precision'])}); misses {number(point['fn'])}, and correctly "
            f"leaves alone {number(point['tn'])}.")


def model_summary(evaluation: Evaluation) -> str:
    counts = evaluation.counts
    data = evaluation.to_dict()
    lines = [
        f"{evaluation.name}  ({counts.mode} counting, {counts.cells:,} cells)",
        f"  ROC AUC {figure(data['roc_auc'])}   average precision {figure(data['average_precision'])}   "
        f"Brier {figure(data['brier'], 4)}   log loss {figure(data['log_loss'], 4)}",
        f"  At threshold {evaluation.threshold:g}, it "
        + confusion_sentence(evaluation.at_threshold, positives=counts.positives),
    ]
    return "\n".join(lines)


def report_text(report: EvaluationReport) -> str:
    """The CLI's readable summary."""
    p = report.data
    first = report.models[0].counts if report.models else None
    header = f"{p.file}: {p.rows:,} rows"
    if first is not None:
        header += f", {number(first.positives)} positives ({percent(first.prevalence, 2)})"
        if p.weight:
            header += f", {number(first.n)} items weighted by {p.weight!r}"
    lines = [header, f"Label {p.label!r}, positive class {p.positive!r}."]
    lines += [f"Guessed {note}." if note.startswith(("label", "score")) else f"Note: {note}."
              for note in report.notes]
    for model in report.models:
        lines += ["", model_summary(model)]
        outcomes = report.outcomes.get(model.name)
        if outcomes is not None and report.scenario is not None:
            point = outcomes.at(model.threshold)
            lines.append("  " + outcome_sentence(point, report.scenario))
            best = outcomes.point(outcomes.best_index)
            threshold = outcomes.thresholds[outcomes.best_index]
            where = "flagging nothing" if not math.isfinite(threshold) else f"threshold {threshold:.4g}"
            value = money(best["value"], report.scenario.currency, signed=True)
            lines.append(f"  Best within capacity: {where}, value {value} per {report.scenario.period}.")
            for status_quo in report.status_quo:
                lines.append("  " + difference_sentence(point, status_quo.point, report.scenario,
                                                        name=status_quo.name))
        if model.name in report.verdicts:
            lines += ["", go_no_go(model.name, report.verdicts[model.name])]
    return "\n".join(lines)


def amount(value: float) -> str:
    """A figure for a sentence: 39,408 for large ones, 0.5629 for small ones."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _verdict_words(verdict: Verdict) -> str:
    value = "n/a" if verdict.value is None else amount(verdict.value)
    sure = f"{verdict.probability:.0%} of resamples"
    text = f"{verdict.criterion.describe()} (target {amount(verdict.target)}): {value}, holds in {sure}"
    if verdict.labels_needed:
        text += f"; about {verdict.labels_needed:,} more labelled items would settle it"
    return text


def go_no_go(name: str, result: CriteriaResult) -> str:
    """A one-paragraph go/no-go note for one model."""
    criteria, choice = result.criteria, result.choice
    head = (f"{criteria.name} (version {criteria.version}"
            + (f", agreed by {', '.join(criteria.agreed_by)}" if criteria.agreed_by else "")
            + (f" on {criteria.agreed_on.isoformat()}" if criteria.agreed_on else "") + "): ")
    if result.met:
        verdict = f"GO for {name}: every criterion holds with at least {criteria.confidence:.0%} confidence"
    elif any(v.verdict == "fail" for v in result.verdicts):
        verdict = f"NO-GO for {name}: some criteria fail"
    else:
        verdict = f"NOT YET for {name}: the test set is too small to be {criteria.confidence:.0%} sure"
    where = f" at threshold {result.threshold:.4g}"
    if choice.chosen is not None and abs(choice.chosen - result.threshold) < 1e-12:
        where += " (chosen against the criteria"
        where += (f"; resamples put it between {choice.spread[0]:.4g} and {choice.spread[1]:.4g})"
                  if choice.spread else ")")
    elif choice.chosen is None:
        where += f" (no threshold meets every criterion; the closest is {choice.closest:.4g}: "
        where += "; ".join(choice.blocking) + ")"
    details = "; ".join(_verdict_words(v) for v in result.verdicts)
    return f"  {head}{verdict}{where}. {details}."


RUN_FIGURES = ("roc_auc", "average_precision", "threshold", "precision", "recall", "caught", "actions", "value")


def run_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures of a saved run's summary that runs are compared on."""
    at = summary.get("at_threshold", {})
    outcomes = summary.get("outcomes", {})
    criteria = summary.get("criteria")
    return {"roc_auc": summary.get("roc_auc"), "average_precision": summary.get("average_precision"),
            "threshold": summary.get("threshold"), "precision": at.get("precision"), "recall": at.get("recall"),
            "caught": outcomes.get("caught", at.get("tp")), "actions": outcomes.get("actions"),
            "value": outcomes.get("value"),
            "criteria": None if not criteria else ("met" if criteria.get("met") else "not met")}


def compare_runs_text(names: list[str], summaries: list[dict[str, Any]]) -> str:
    """A table of the runs side by side and, between the last two, the difference in words."""
    figures = [run_figures(summary) for summary in summaries]
    width = max(12, *(len(name) for name in names))
    lines = [f"{'':<18}" + "".join(f"{name[:width]:>{width + 2}}" for name in names)]
    for key in (*RUN_FIGURES, "criteria"):
        cells = []
        for figure in figures:
            value = figure.get(key)
            cells.append("-" if value is None else value if isinstance(value, str) else amount(float(value)))
        lines.append(f"{key.replace('_', ' '):<18}" + "".join(f"{cell:>{width + 2}}" for cell in cells))
    if len(figures) >= 2:
        old, new = figures[-2], figures[-1]
        parts = []
        for key, noun in (("caught", "caught"), ("actions", "actions"), ("value", "value")):
            if old.get(key) is not None and new.get(key) is not None:
                change = new[key] - old[key]
                parts.append(f"{'+' if change >= 0 else '-'}{amount(abs(change))} {noun}")
        if old.get("roc_auc") is not None and new.get("roc_auc") is not None:
            parts.append(f"ROC AUC {old['roc_auc']:.3f} -> {new['roc_auc']:.3f}")
        if parts:
            lines += ["", f"{names[-1]} against {names[-2]}: " + ", ".join(parts) + "."]
    return "\n".join(lines)
