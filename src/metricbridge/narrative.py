"""Plain-language text for people: counts in words, figures rounded for reading (JSON keeps them raw)."""

from __future__ import annotations

import math

from metricbridge.evaluate import EvaluationReport
from metricbridge.metrics import Evaluation

__all__ = ["number", "percent", "figure", "confusion_sentence", "model_summary", "report_text"]


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
    return "\n".join(lines)
