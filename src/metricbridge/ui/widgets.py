"""Pieces every page shares: the loaded report (or its error), the model picker, the threshold control,
the verdicts filled in when the bootstrap is done, messages and deferred downloads."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pandas as pd
import streamlit as st

from metricbridge.errors import MetricBridgeError
from metricbridge.evaluate import EvaluationReport
from metricbridge.ui import links, state

__all__ = ["loaded_report", "show_messages", "pick_model", "threshold_control", "chosen", "verdicts",
           "all_verdicts", "settle_threshold", "table", "download"]


def loaded_report(*, link_to_data: bool = True) -> EvaluationReport | None:
    """The report of the current data under the current scenario (counted once, no verdicts), or None after
    showing why there is none. The bootstraps start in the background from here when there are criteria."""
    state.init()
    source = state.current_source()
    if source is None:
        st.info("No data loaded yet: upload a predictions file on the Data page.")
        st.page_link(links.page("data"), label="Go to Data", icon=":material/upload_file:")
        return None
    try:
        report = state.report(source, state.current_choices())
    except MetricBridgeError as error:
        st.error(str(error))
        if link_to_data:
            st.page_link(links.page("data"), label="Fix the column choices on the Data page",
                         icon=":material/upload_file:")
        return None
    state.start_bootstraps(report)
    state.prefetch(source, report)
    return report


def show_messages(report: EvaluationReport) -> None:
    for warning in report.warnings:
        st.warning(warning, icon=":material/warning:")


def pick_model(report: EvaluationReport) -> str:
    """The model every page details: one choice shared by all pages (and the link); a select box only when
    the file holds several."""
    names = [model.name for model in report.models]
    current = state.current_model(report)
    state.set_model(current)
    if len(names) == 1:
        return current
    st.session_state["model_picker"] = current

    def picked() -> None:
        state.set_model(str(st.session_state["model_picker"]))

    st.selectbox("Model", names, key="model_picker", on_change=picked)
    return current


def _bounds(report: EvaluationReport) -> tuple[float, float, float]:
    low = min(m.counts.score_min for m in report.models)
    high = max(m.counts.score_max for m in report.models)
    if all(m.counts.is_probability for m in report.models):
        return 0.0, 1.0, 0.001
    step = 10 ** math.floor(math.log10(max(high - low, 1e-9) / 1000))
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def threshold_control(report: EvaluationReport, model: str) -> state.Threshold:
    """A slider and a number box that move together, for the picked model; the value is shared by every
    page and the link. Returns the threshold in force (see :func:`state.threshold_for`)."""
    low, high, step = _bounds(report)
    threshold = state.threshold_for(report, model)
    current = float(min(max(threshold.value, low), high))
    for key in ("threshold_slider", "threshold_box"):
        st.session_state[key] = current

    def moved(key: str) -> None:
        state.set_threshold(model, float(st.session_state[key]))

    left, right = st.columns([4, 1])
    left.slider("Threshold: flag items whose score is at least", min_value=low, max_value=high, step=step,
                key="threshold_slider", on_change=moved, args=("threshold_slider",), format="%.3f")
    right.number_input("Exact threshold", min_value=low, max_value=high, step=step, key="threshold_box",
                       on_change=moved, args=("threshold_box",), format="%.4f")
    if threshold.provisional:
        st.caption(f"Threshold {threshold.value:.4g}, {threshold.reason}, for now: the threshold chosen against "
                   "the criteria follows when the bootstrap is done.")
    elif threshold.reason and threshold.reason != "set here":
        st.caption(f"Threshold {threshold.value:.4g}: {threshold.reason}.")
    return threshold


def chosen(report: EvaluationReport, model: str) -> state.Chosen | None:
    """``model``'s threshold chosen against the criteria, waiting for its bootstrap with a progress bar (None
    without criteria): enough for the bands and the threshold policy."""
    return state.chosen(report, model)


def verdicts(report: EvaluationReport, model: str, *, threshold: state.Threshold) -> EvaluationReport:
    """``report`` with ``model``'s verdicts at the threshold in force (waiting for its bootstrap, with a
    progress bar); ``report`` itself when there are no criteria or they cannot be judged."""
    return state.judged(report, model, threshold=threshold)


def all_verdicts(report: EvaluationReport) -> EvaluationReport:
    """``report`` with every model's verdicts, each at the threshold in force for it (what a saved run keeps)."""
    parts = {m.name: verdicts(report, m.name, threshold=state.threshold_for(report, m.name)) for m in report.models}
    return replace(report.at({name: part.model(name).threshold for name, part in parts.items()}),
                   verdicts={name: part.verdicts[name] for name, part in parts.items() if name in part.verdicts},
                   bootstraps={name: part.bootstraps[name] for name, part in parts.items() if name in part.bootstraps})


def settle_threshold(threshold: state.Threshold, made: state.Chosen | None) -> None:
    """After the choice came in: a page drawn at a provisional threshold is drawn again at the chosen one."""
    if threshold.provisional and made is not None and made.choice.threshold not in (None, threshold.value):
        st.rerun()


def table(frame: pd.DataFrame) -> str:
    """A small table (a few rows of text) as Markdown: drawn in microseconds, where a data frame widget costs
    tens of milliseconds a rerun. Every cell is text escaped for Markdown."""
    def cell(value: object) -> str:
        text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
        return "".join(f"\\{c}" if c in "*_`[]<>#~$" else c for c in text)

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join(" --- " for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def download(label: str, make: Callable[[], bytes | str], *, file_name: str, mime: str,
             key: str | None = None) -> None:
    """A download button whose file is made only when it is pressed (``make`` must call no Streamlit)."""
    st.download_button(label, data=make, file_name=file_name, mime=mime, key=key, on_click="ignore")
