"""Data: choose the demo or upload a file, confirm the columns, see what was read."""

from __future__ import annotations

import streamlit as st

from metricbridge.errors import MetricBridgeError
from metricbridge.loading import FileOverview
from metricbridge.narrative import number, percent
from metricbridge.sources.local import reads_in_place
from metricbridge.ui import state, widgets

_UPLOAD = "Upload a file"
_LARGE = "Open a large dataset"
_NONE = "(none)"


def _source_picker() -> None:
    options = [f"Demo: {demo.title}" for demo in state.DEMOS.values()] + [_UPLOAD, _LARGE]
    source = state.current_source()
    in_place = source is not None and not source.demo and reads_in_place(source.path)
    index = list(state.DEMOS).index(source.demo) if source and source.demo else len(options) - (1 if in_place else 2)
    picked = st.radio("Data", options, index=index, horizontal=True, label_visibility="collapsed")
    if picked == _LARGE:
        _large_dataset(source)
        return
    if picked != _UPLOAD:
        key = list(state.DEMOS)[options.index(picked)]
        if source is None or source.demo != key:
            st.session_state[state.SOURCE] = state.demo_source(key)
            st.rerun()
        return
    uploaded = st.file_uploader("Predictions file (CSV or Parquet)", type=["csv", "tsv", "txt", "parquet"],
                                help="One row per item: a label column and one score column per model.")
    if uploaded is None:
        return
    candidate = state.save_upload(uploaded.name, uploaded.getvalue())
    if source is not None and candidate.digest == source.digest:
        return
    try:
        state.overview(candidate)
    except MetricBridgeError as error:  # keep what was loaded before; say what is wrong with this one
        st.error(str(error))
        return
    st.session_state[state.SOURCE] = candidate


def _large_dataset(source: state.Source | None) -> None:
    """A path on this machine, read where it is (nothing is uploaded or copied) and counted out of core."""
    with st.form("large_dataset"):
        path = st.text_input("Path or table", value=source.path if source and not source.demo else "",
                             placeholder="/data/predictions/ · /data/predictions/*.parquet · warehouse.duckdb:scores",
                             help="A Parquet file, a folder of Parquet parts (hive partitions included), a glob, a "
                                  "CSV file, or a table of a DuckDB database. It is read in place by DuckDB with a "
                                  "memory limit, so it may be larger than memory.")
        opened = st.form_submit_button("Open")
    if not opened:
        return
    try:
        with st.spinner(f"Reading the columns of {path}…"):
            candidate = state.open_in_place(path)
    except MetricBridgeError as error:  # keep what was loaded before
        st.error(str(error))
        return
    st.session_state[state.SOURCE] = candidate
    st.rerun()


def _index(options: list[str], value: str | None) -> int:
    return options.index(value) if value in options else 0


def _column_choices(info: FileOverview, saved: state.Choices, digest: str) -> state.Choices:
    columns = list(info.columns)
    st.markdown("**Columns**  ·  guessed from names and contents; change any of them")
    for note in info.notes:
        st.caption(f"Guessed {note}.")
    for question in info.questions:
        st.info(question)
    a, b, c = st.columns([2, 2, 3])
    label = a.selectbox("Label (the true outcome)", columns, key=f"label_{digest}",
                        index=_index(columns, saved.label or info.label))
    values = list(info.values.get(label, ()))
    positive = None
    if values:
        default = saved.positive if saved.positive in values else None
        picked = b.selectbox("Positive class", ["(guess)"] + values, key=f"positive_{digest}",
                             index=_index(["(guess)"] + values, default),
                             help="The label value the model looks for (fraud, urgent, churned...)")
        positive = None if picked == "(guess)" else picked
    else:
        positive = b.text_input("Positive class", value=saved.positive or "", key=f"positive_{digest}") or None
    numeric = [col for col in info.numeric if col != label]
    # Any column may be named a score: a text one then gets its offending rows reported.
    candidates = numeric + [col for col in columns if col != label and col not in numeric]
    scores = c.multiselect("Score columns (one per model)", candidates, key=f"scores_{digest}",
                           default=[s for s in (saved.scores or info.scores) if s in candidates])
    d, e, f = st.columns([2, 2, 3])
    weight = d.selectbox("Weight (optional)", [_NONE] + numeric, key=f"weight_{digest}",
                         index=_index([_NONE] + numeric, saved.weight))
    id_column = e.selectbox("Id (optional)", [_NONE] + columns, key=f"id_{digest}",
                            index=_index([_NONE] + columns, saved.id))
    drop = f.checkbox("Drop rows with a missing label or score", value=saved.drop_missing, key=f"drop_{digest}")
    # what equals the guess stays "guess", so the counts made before this page was opened are the ones used
    return state.Choices(label=None if label == info.label else label,
                         scores=() if tuple(scores) == tuple(info.scores) else tuple(scores), positive=positive,
                         weight=None if weight == _NONE else weight, id=None if id_column == _NONE else id_column,
                         drop_missing=drop)


def _profile(report) -> None:
    data = report.data
    cols = st.columns(4)
    cols[0].metric("Rows used", number(data.rows),
                   delta=f"-{number(data.dropped_rows)} dropped" if data.dropped_rows else None)
    cols[1].metric("Positives", number(data.positive_rows))
    cols[2].metric("Share positive", percent(data.positive_rows / data.rows if data.rows else None, 2))
    cols[3].metric("Columns", len(data.columns))
    ranges = [{"score column": name, "lowest": r["min"], "highest": r["max"], "missing": r["missing"]}
              for name, r in data.score_ranges.items()]
    st.dataframe(ranges, hide_index=True)
    st.markdown("**Preview** (first rows; row numbers as a spreadsheet shows them)")
    st.dataframe(data.preview, height=280)


def render() -> None:
    state.init()
    st.title("Data")
    _source_picker()
    source = state.current_source()
    if source is None:
        st.info("The demo data is not installed here: upload a predictions file.")
        return
    try:
        info = state.overview(source)
    except MetricBridgeError as error:
        st.error(str(error))
        return
    st.caption(f"{source.name}: {number(info.rows)} rows, {len(info.columns)} columns")
    state.set_choices(_column_choices(info, state.current_choices(), source.digest[:12]))
    state.sync_url()
    report = widgets.loaded_report(link_to_data=False)
    if report is None:
        return
    for note in report.notes:
        if not note.startswith(("label", "score")):
            st.info(note)
    widgets.show_messages(report)
    _profile(report)
