"""Metrics and threshold: the tradeoff at every threshold, the point at the chosen one, every model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metricbridge import charts
from metricbridge.evaluate import EvaluationReport
from metricbridge.export import safe_csv
from metricbridge.metrics import Evaluation
from metricbridge.narrative import confusion_sentence, figure, number, percent
from metricbridge.ui import state, widgets


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
        rows.append({"model": model.name, "ROC AUC": figure(d["roc_auc"]),
                     "average precision": figure(d["average_precision"]), "Brier": figure(d["brier"], 4),
                     "log loss": figure(d["log_loss"], 4), "caught": number(p["tp"]),
                     "false alarms": number(p["fp"]), "precision": percent(p["precision"]),
                     "recall": percent(p["recall"]), "F1": figure(p["f1"]), "counting": model.counts.mode})
    return pd.DataFrame(rows)


def render() -> None:
    st.title("Metrics and threshold")
    report = widgets.loaded_report()
    if report is None:
        return
    widgets.show_messages(report)
    report = report.at(widgets.threshold_control(report))
    state.sync_url()
    name = widgets.pick_model(report, key="metrics_model")
    model = report.model(name)
    if model.counts.is_hard_decision:
        st.info(f"{name} holds 0/1 decisions, not scores: it has a single operating point, so moving the "
                "threshold between 0 and 1 changes nothing.")
    _outcome_cards(model)
    curves, points = charts.curves_frame(report.models), charts.operating_points(report.models)
    bands = report.verdicts[name].bands if name in report.verdicts else None
    if bands is not None:
        st.caption(f"Shaded: where {name}'s curve could lie with another test set of this size "
                   f"({report.verdicts[name].criteria.confidence:.0%} bootstrap band).")
    left, right = st.columns(2)
    left.altair_chart(charts.roc_chart(curves, points=points, bands=bands), width="stretch")
    right.altair_chart(charts.pr_chart(curves, points=points, base_rate=model.counts.prevalence, bands=bands),
                       width="stretch")
    st.altair_chart(charts.metrics_chart(curves[curves["model"] == name], threshold=model.threshold),
                    width="stretch")
    left, right = st.columns(2)
    calibration = charts.calibration_frame(report.models)
    if calibration.empty:
        left.info("No calibration chart: the scores are not probabilities.")
    else:
        left.altair_chart(charts.calibration_chart(calibration), width="stretch")
    right.markdown("**Confusion matrix at the threshold**")
    right.table(_confusion_table(model))
    st.subheader("All models at this threshold")
    st.dataframe(_models_table(report), hide_index=True)
    with st.expander("Every figure at every threshold"):
        table = model.curve.to_frame()
        st.dataframe(table.head(2000), height=300)
        st.download_button("Download the curve (CSV)", safe_csv(table), file_name=f"{name}_curve.csv",
                           mime="text/csv")
    with st.expander("Downloads: the work list and the charts"):
        source = state.current_source()
        if source is not None:
            st.download_button(f"Work list: the {name} flags at {model.threshold:.4g}, highest score first (CSV)",
                               state.worklist(source, name, model.threshold), file_name=f"{name}_worklist.csv",
                               mime="text/csv")
        widgets.chart_downloads(charts.roc_chart(curves, points=points), "ROC curve", key="roc")
        widgets.chart_downloads(charts.pr_chart(curves, points=points, base_rate=model.counts.prevalence),
                                "Precision-recall curve", key="pr")
