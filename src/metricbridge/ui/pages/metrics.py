"""Metrics and threshold: the tradeoff at every threshold, the point at the chosen one, every model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metricbridge import charts
from metricbridge.evaluate import EvaluationReport
from metricbridge.export import safe_csv
from metricbridge.metrics import Evaluation
from metricbridge.narrative import confusion_sentence, figure, number, percent
from metricbridge.ui import charting, guard, state, widgets

_BANDS = ("recall", "precision", "fpr")  # what the ROC and precision-recall charts shade (and draw against)


def _card(column, label: str, value: float, share: str | None, help: str) -> None:
    column.metric(label, number(value), help=help, delta=share, delta_color="off", delta_arrow="off")


def _outcome_cards(model: Evaluation) -> None:
    point, positives = model.at_threshold, model.counts.positives
    missed_share = 1 - point["recall"] if positives else None
    cards = st.columns(4)
    _card(cards[0], "Caught", point["tp"], f"{percent(point['recall'])} of positives",
          "Positives flagged (true positives)")
    _card(cards[1], "Missed", point["fn"], f"{percent(missed_share)} of positives",
          "Positives not flagged (false negatives)")
    _card(cards[2], "False alarms", point["fp"], f"{percent(1 - point['precision'])} of flags",
          "Negatives flagged (false positives)")
    _card(cards[3], "Correctly left alone", point["tn"], None, "Negatives not flagged (true negatives)")
    st.markdown(f"**{model.name}** at threshold **{model.threshold:.4g}** "
                + confusion_sentence(point, positives=positives))


def _confusion_table(model: Evaluation) -> pd.DataFrame:
    p = model.at_threshold
    return pd.DataFrame({"Flagged": [number(p["tp"]), number(p["fp"])],
                         "Not flagged": [number(p["fn"]), number(p["tn"])]},
                        index=["Positive (truly)", "Negative (truly)"])


def _models_table(report: EvaluationReport) -> pd.DataFrame:
    rows = []
    for model in report.models:
        d, p = model.to_dict(), model.at_threshold
        rows.append({"model": model.name, "threshold": f"{model.threshold:.4g}", "ROC AUC": figure(d["roc_auc"]),
                     "average precision": figure(d["average_precision"]), "Brier": figure(d["brier"], 4),
                     "log loss": figure(d["log_loss"], 4), "caught": number(p["tp"]),
                     "false alarms": number(p["fp"]), "precision": percent(p["precision"]),
                     "recall": percent(p["recall"]), "F1": figure(p["f1"]), "counting": model.counts.mode})
    return pd.DataFrame(rows)


def _curves(report: EvaluationReport, name: str, slots, bands: pd.DataFrame | None) -> tuple:
    curves, points = state.curves(report), charts.operating_points(report.models)
    roc = charts.roc_chart(curves, points=points, bands=bands)
    pr = charts.pr_chart(curves, points=points, base_rate=report.model(name).counts.prevalence, bands=bands)
    charting.show(roc, slots[0])
    charting.show(pr, slots[1])
    return roc, pr


@guard.fragment
def _at_threshold(report: EvaluationReport, name: str) -> None:
    """Everything that follows the threshold: a slider move reruns only this."""
    threshold = widgets.threshold_control(report, name)
    state.sync_url()
    others = {m.name: state.threshold_for(report, m.name).value for m in report.models if m.name != name}
    at = report.at(others | {name: threshold.value})  # the verdicts' stages key on ``report`` itself
    model = at.model(name)
    if model.counts.is_hard_decision:
        st.info(f"{name} holds 0/1 decisions, not scores: it has a single operating point, so moving the "
                "threshold between 0 and 1 changes nothing.")
    _outcome_cards(model)
    made = widgets.chosen(report, name) if state.verdicts_ready(report, name) else None
    band = state.bands(made, figures=_BANDS)
    caption = st.empty()
    left, right = st.columns(2)
    slots = (left.empty(), right.empty())
    roc, pr = _curves(at, name, slots, band)
    charting.show(charts.metrics_chart(state.curves(report, name), threshold=model.threshold))
    left, right = st.columns(2)
    left.markdown("**Confusion matrix at the threshold**")
    left.markdown(widgets.table(_confusion_table(model).reset_index(names="")))
    right.markdown("**Every model, each at its threshold**")
    right.markdown(widgets.table(_models_table(at)))
    with st.expander("Downloads: the work list and the charts"):
        source = state.current_source()
        if source is not None:
            widgets.download(f"Work list: the {name} flags at {model.threshold:.4g}, highest score first (CSV)",
                             state.worklist(source, name, model.threshold), file_name=f"{name}_worklist.csv",
                             mime="text/csv")
        charting.svg_png_downloads(roc, "ROC curve", key="roc")
        charting.svg_png_downloads(pr, "Precision-recall curve", key="pr")
    if made is None:  # the verdicts' parts, filled in once the bootstrap is done
        made = widgets.chosen(report, name)
        widgets.settle_threshold(threshold, made)
        band = state.bands(made, figures=_BANDS)
        if band is not None:
            _curves(at, name, slots, band)
    if made is not None and band is not None:
        confidence = made.criteria.confidence
        caption.caption(f"Shaded: where {name}'s curve could lie with another test set of this size "
                        f"({confidence:.0%} bootstrap band).")


def render() -> None:
    st.title("Metrics and threshold")
    report = widgets.loaded_report()
    if report is None:
        return
    widgets.show_messages(report)
    name = widgets.pick_model(report)
    _at_threshold(report, name)
    model = report.model(name)
    left, right = st.columns(2)
    calibration = state.calibration(report)
    if calibration.empty:
        left.info("No calibration chart: the scores are not probabilities.")
    else:
        charting.show(charts.calibration_chart(calibration), left)
    right.markdown("**Counting**")
    right.caption(f"{name}: {model.counts.mode} counting, {model.counts.cells:,} cells, "
                  f"{number(model.counts.n)} items.")
    with st.expander("Every figure at every threshold"):
        st.dataframe(model.curve.take(model.curve.downsample_indices(2000)).to_frame(), height=300)
        widgets.download("Download the curve (CSV)", lambda: safe_csv(model.curve.to_frame()),
                         file_name=f"{name}_curve.csv", mime="text/csv")
