"""Monitoring: after the go decision, are the agreed criteria still met, week by week? Drift of the scores,
and estimates for the weeks whose labels have not arrived, marked as such."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from metricbridge import charts, views
from metricbridge.drift import DEFAULT_DRIFT_THRESHOLDS, DriftThresholds
from metricbridge.errors import MetricBridgeError
from metricbridge.monitor import WINDOWS, MonitorReport
from metricbridge.ui import charting, links, state, store_state, widgets

_RUN_FILES = Path(tempfile.gettempdir()) / "metricbridge-references"  # a run's rows, exported once per run


def _drift_thresholds() -> DriftThresholds:
    default = DEFAULT_DRIFT_THRESHOLDS
    with st.expander("When do scores count as drifted?"):
        a, b, c = st.columns(3)
        psi = a.number_input("PSI above", min_value=0.0, max_value=5.0, step=0.05, key="drift_psi",
                             value=default.psi, help="The population stability index: 0.1 is some shift, 0.25 a "
                             "major one.")
        p_value = b.number_input("KS p-value below", min_value=0.0, max_value=1.0, step=0.005, format="%.3f",
                                 key="drift_ks", value=default.ks_p_value,
                                 help="The shift is beyond chance for windows of this size (large windows make "
                                 "tiny shifts significant: read it with the PSI).")
        change = c.number_input("Share of positives moved by more than (points)", min_value=0.0, max_value=100.0,
                                step=0.5, value=0.0, key="drift_prevalence",
                                help="0 leaves this rule off: a change in prevalence is news, not always drift.")
    return DriftThresholds(psi=psi, ks_p_value=p_value, prevalence_change=change / 100 if change else None)


def _reference_run(model: str) -> tuple[str | None, str]:
    """The file of a saved run of ``model`` to compare with (its stored rows) and its name, when one is
    picked."""
    none = (None, "the first labelled windows")
    try:
        db = store_state.store()
        runs = [run for run in store_state.read(db, "runs") if run.model == model]
    except MetricBridgeError:
        return none  # the Projects page says what is wrong with the database
    if not runs:
        return none
    names = {f"{run.project} / {run.name} ({run.created_at:%Y-%m-%d})": run for run in runs}
    picked = st.selectbox("Or compare with a saved run (its rows are the reference)", ["(none)", *names],
                          key="monitor_reference_run")
    if picked == "(none)":
        return none
    try:
        with st.spinner("Reading the run's rows…"):
            _RUN_FILES.mkdir(exist_ok=True)
            return str(db.export_dataset(names[picked].dataset_hash, _RUN_FILES)), f"the saved run {picked}"
    except (MetricBridgeError, OSError) as error:
        st.error(f"The run's rows cannot be read: {error}")
        return none


def _headline(report: MonitorReport) -> None:
    sentence = report.latest()
    last = report.windows[-1] if report.windows else None
    verdicts = [v.removeprefix("estimated ") for v in last.verdicts.values()] if last else []
    if "fail" in verdicts:
        st.error(sentence, icon=":material/error:")
    elif report.latest_short:
        st.warning(sentence, icon=":material/warning:")
    else:
        st.success(sentence, icon=":material/check_circle:")


def render() -> None:
    st.title("Monitoring")
    report = widgets.loaded_report()
    if report is None:
        return
    source = state.current_source()
    if source is None:
        return
    columns = state.time_columns(source, report)
    if not columns:
        st.info("The file has no time column (a date or a timestamp): monitoring follows the model window by "
                "window, so it needs one. Add the date each item was scored and upload again.")
        return
    name = widgets.pick_model(report)
    threshold = state.threshold_for(report, name).value
    left, middle, right = st.columns([2, 2, 2])
    time = left.selectbox("Time column", columns, key="monitor_time")
    window = middle.radio("Window", WINDOWS, index=WINDOWS.index("week"), horizontal=True, key="monitor_window")
    first = right.number_input("Reference: the first labelled windows", min_value=1, max_value=52, value=4,
                               key="monitor_reference", help="Drift is measured against these windows' scores, "
                               "and estimates rely on their calibration.")
    reference_file, reference_name = _reference_run(name)
    st.caption(f"{name} at threshold {threshold:.4g}, the one used on every page (move it on Metrics and "
               "threshold). Windows whose labels are pending are estimated from the scores, assuming they are "
               "calibrated, and shaded.")
    st.page_link(links.page("metrics"), label="Metrics and threshold", icon=":material/tune:")
    thresholds = _drift_thresholds()
    request = state.MonitorRequest(model=name, time=time, window=window, threshold=float(threshold),
                                   reference_windows=int(first), reference_file=reference_file,
                                   reference_name=reference_name)
    try:
        result = state.monitoring(source, request).with_drift_thresholds(thresholds)
    except MetricBridgeError as error:
        st.error(str(error))
        return
    _headline(result)
    if result.alerts:
        count = len(result.alerts)
        st.warning(f"**{count} alert{'s' if count > 1 else ''}**\n" + "\n".join(f"- {a}" for a in result.alerts),
                   icon=":material/notifications:")
    for warning in sorted({w.estimate.warning for w in result.windows if w.estimate and w.estimate.warning}):
        st.info(warning, icon=":material/info:")
    if state.current_agreement() is None:
        st.caption("No success criteria agreed yet: the figures are shown without targets.")
        st.page_link(links.page("criteria"), label="Agree on success criteria", icon=":material/verified:")
    charting.show(charts.monitor_chart(charts.monitor_frame(result)), width="content")
    st.caption(f"Reference: {result.reference}.")
    charting.show(charts.drift_chart(charts.drift_frame(result)), width="content")
    with st.expander("The numbers"):
        st.dataframe(views.windows_frame(result), hide_index=True)
        widgets.download("Download as JSON", lambda: json.dumps(result.to_dict(), allow_nan=False),
                         file_name="monitoring.json", mime="application/json")
