"""A self-contained HTML report: opens offline, charts as inline SVG, every user string escaped."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from metricbridge import charts, present
from metricbridge.evaluate import EvaluationReport
from metricbridge.narrative import amount, difference_sentence, figure, money, number, percent

if TYPE_CHECKING:
    from metricbridge.segments import SegmentReport

__all__ = ["html_report"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem;
color:#1f2933;line-height:1.5}h1{font-size:1.9rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid
#e4e7eb;padding-bottom:.3rem}.rating{font-size:1.6rem;font-weight:700;padding:.6rem 1rem;border-radius:8px;
display:inline-block}.ready{background:#e8f5e9;color:#1b5e20}.promising{background:#fff3e0;color:#e65100}
.notyet{background:#ffebee;color:#b71c1c}.none{background:#eceff1;color:#37474f}table{border-collapse:collapse;
margin:.6rem 0}td,th{border:1px solid #e4e7eb;padding:.3rem .6rem;text-align:right}th{background:#f5f7fa}
td:first-child,th:first-child{text-align:left}.pass{color:#1b5e20;font-weight:600}.fail{color:#b71c1c;
font-weight:600}.uncertain{color:#e65100;font-weight:600}.charts svg{max-width:100%;height:auto}.muted{color:#616e7c}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _rating_block(report: EvaluationReport, model: str) -> str:
    result = report.verdicts.get(model)
    rating = present.rating(result)
    css = {"Ready to pilot": "ready", "Promising": "promising", "Not yet": "notyet"}.get(rating.label or "", "none")
    label = rating.label or "No criteria agreed yet"
    return (f'<p class="rating {css}">{_e(label)}</p><p>{_e(rating.explanation)} '
            f"{_e(present.verdict_line(result))}</p>")


def _criteria_section(report: EvaluationReport, model: str) -> str:
    result = report.verdicts.get(model)
    if result is None:
        return "<p>No success criteria were given.</p>"
    c = result.criteria
    agreed = f"agreed by {', '.join(c.agreed_by)}" if c.agreed_by else "not signed off"
    when = f" on {c.agreed_on.isoformat()}" if c.agreed_on else ""
    rows = [[_e(v.criterion.describe()), _e(amount(v.target)), _e("n/a" if v.value is None else amount(v.value)),
             f"{v.probability:.0%}", f'<span class="{v.verdict}">{_e(v.verdict)}</span>',
             _e(f"{v.labels_needed:,}" if v.labels_needed else "")] for v in result.verdicts]
    chosen = (f"The threshold {result.threshold:.4g} was chosen against these criteria."
              if result.choice.chosen is not None else
              f"No threshold meets every criterion; shown at the closest, {result.threshold:.4g}. "
              + " ".join(result.choice.blocking))
    return (f"<p><b>{_e(c.name)}</b>, version {c.version}, {_e(agreed)}{_e(when)}; {c.confidence:.0%} sure.</p>"
            + (f'<p class="muted">{_e(c.note)}</p>' if c.note else "")
            + _table(["criterion", "target", "value", "holds in", "verdict", "labels to settle"], rows)
            + f"<p>{_e(chosen)}</p>")


def _status_quo_section(report: EvaluationReport, model: str, threshold: float) -> str:
    scenario = report.scenario
    if scenario is None or not report.status_quo:
        return "<p>No status quo was given.</p>"
    point = report.outcomes[model].at(threshold)
    who = [(model, point)] + [(sq.name, sq.point) for sq in report.status_quo]
    rows = [[_e(name), number(round(p["caught"], 1)), number(round(p["false_alarms"], 1)),
             number(round(p["actions"], 1)), number(round(p["hours"], 1)), _e(money(p["value"], scenario.currency))]
            for name, p in who]
    words = "".join(f"<li>{_e(difference_sentence(point, sq.point, scenario, name=sq.name))}</li>"
                    for sq in report.status_quo)
    return (_table([f"per {scenario.period}", f"{scenario.positive}s caught", "false alarms",
                    f"{scenario.action}s", "hours", "value"], rows) + f"<ul>{words}</ul>")


def _segments_section(segments: SegmentReport) -> str:
    """One column's segments, failing first: status, rows, recall and precision with their intervals, then the
    sentences (the warning first when overall and segments disagree)."""
    rows = []
    for result in segments.results:
        css = result.status if result.status in ("pass", "fail", "uncertain") else "muted"
        cells = [_e(result.label), f'<span class="{css}">{_e(result.status)}</span>', f"{result.rows:,}"]
        for metric in ("recall", "precision"):
            shown = percent(result.figures[metric])
            if metric in result.intervals:
                low, high = result.intervals[metric]
                shown += "" if math.isnan(low) or math.isnan(high) else f" ({percent(low)} to {percent(high)})"
            cells.append(_e(shown))
        rows.append(cells)
    sentences = "".join(f"<li>{_e(sentence)}</li>" for sentence in segments.sentences())
    return (f"<h3>By {_e(segments.key)}</h3><p>Every segment at the model's threshold, {segments.threshold:.4g}; "
            f"intervals at {segments.confidence:.0%}, from {segments.resamples:,} bootstrap resamples of each "
            f"segment; segments of fewer than {segments.min_items:,} rows or {segments.min_positives:,} positive "
            "rows are not judged.</p>"
            + _table(["segment", "status", "rows", "recall", "precision"], rows) + f"<ul>{sentences}</ul>")


def _charts(report: EvaluationReport, model: str, threshold: float) -> str:
    evaluation = report.model(model)
    at = report.at(threshold)
    curves, points = charts.curves_frame(at.models), charts.operating_points(at.models)
    parts = [charts.roc_chart(curves, points=points, width=420),
             charts.pr_chart(curves, points=points, base_rate=evaluation.counts.prevalence, width=420)]
    if report.scenario is not None:
        counts = present.icon_counts(report.outcomes[model], threshold)
        parts.insert(0, charts.icon_array_chart(present.icon_frame(counts, positive=report.scenario.positive),
                                                positive=report.scenario.positive))
    return '<div class="charts">' + "".join(charts.to_svg(chart) for chart in parts) + "</div>"


def _methods(report: EvaluationReport, model: str, threshold: float) -> str:
    data, evaluation = report.data, report.model(model)
    counts = evaluation.counts
    d = evaluation.to_dict()
    items = [
        f"Data: {_e(data.file)}, {data.rows:,} rows used ({data.dropped_rows:,} dropped), label {_e(data.label)} "
        f"(positive: {_e(data.positive)}), {number(counts.positives)} positives ({percent(counts.prevalence, 2)}).",
        f"Model {_e(model)}: ROC AUC {figure(d['roc_auc'])}, average precision {figure(d['average_precision'])}, "
        f"Brier {figure(d['brier'], 4)}; {counts.mode} counting ({counts.cells:,} cells). An item is flagged when "
        f"its score is at least the threshold, here {threshold:.4g}.",
    ]
    if report.scenario is not None:
        s = report.scenario
        items.append(
            f"Scenario {_e(s.name)}: {number(s.volume)} {_e(s.item)}s per {_e(s.period)}, prevalence "
            f"{'of the data' if s.prevalence is None else percent(s.prevalence, 2)}, "
            f"{'no capacity limit' if s.capacity is None else 'capacity ' + number(s.capacity)}. Per period, "
            "caught = volume x prevalence x recall, false alarms = volume x (1 - prevalence) x false-alarm rate; "
            "value = each count x its worth, minus the effort's cost.")
    result = report.verdicts.get(model)
    if result is not None:
        items.append(f"Uncertainty: {result.resamples:,} bootstrap resamples of the evaluation set (seed "
                     f"{result.seed}, {result.bins:,} score bins); a criterion passes when it holds in at least "
                     f"{result.criteria.confidence:.0%} of them, fails when in at most "
                     f"{1 - result.criteria.confidence:.0%}.")
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def html_report(report: EvaluationReport, model: str | None = None, *, threshold: float | None = None,
                title: str | None = None, segments: Sequence[SegmentReport] = ()) -> str:
    """The report of one model as one HTML document with no external resource. ``segments`` (the model's
    :class:`~metricbridge.segments.SegmentReport` per segment column) add a Segments section, and the summary at
    the top names the worst failing segment of each (:meth:`SegmentReport.headline`)."""
    name = model or report.models[0].name
    evaluation = report.model(name)
    at = evaluation.threshold if threshold is None else threshold
    scenario = report.scenario
    heading = title or (scenario.name if scenario else f"Evaluation of {name}")
    summary = "".join(f"<p>{_e(sentence)}</p>" for sentence in present.summary_sentences(report, name, at))
    summary += "".join(f'<p class="fail">{_e(line)}</p>' for line in (s.headline() for s in segments) if line)
    sections = [
        f"<h1>{_e(heading)}</h1><p class=\"muted\">{_e(name)} on {_e(report.data.file)} · written "
        f"{dt.date.today().isoformat()} by metricbridge</p>",
        _rating_block(report, name), summary,
        "<h2>The agreed criteria</h2>", _criteria_section(report, name),
        "<h2>Against today</h2>", _status_quo_section(report, name, at),
        *(["<h2>Segments</h2>", *(_segments_section(s) for s in segments)] if segments else []),
        "<h2>Charts</h2>", _charts(report, name, at),
        "<h2>Methods</h2>", _methods(report, name, at),
    ]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            f"content=\"width=device-width\"><title>{_e(heading)}</title><style>{_STYLE}</style></head><body>"
            + "".join(sections) + "</body></html>")
