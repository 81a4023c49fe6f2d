"""Projects and runs: create a project, keep its card, save the current data as runs, compare and open them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metricbridge import charts
from metricbridge.errors import MetricBridgeError
from metricbridge.narrative import compare_runs_text, run_figures
from metricbridge.progress import verdicts_side_by_side
from metricbridge.runs import save_report
from metricbridge.store import STAGES, Store
from metricbridge.ui import charting, state, store_state, widgets


def _new_project(db: Store) -> None:
    with st.form("new_project", clear_on_submit=True):
        name = st.text_input("New project")
        if st.form_submit_button("Create project") and name.strip():
            db.create_project(name.strip())
            st.session_state[store_state.PROJECT] = name.strip()
            st.rerun()


def _card(db: Store, project: str) -> None:
    card = store_state.read(db, "card", project) or {}
    with st.expander(f"Project card (version {card.get('version', 0)})", expanded=not card):
        with st.form(f"card_{project}"):
            problem = st.text_area("The problem, in one paragraph", card.get("problem") or "")
            stakeholders = st.text_input("Stakeholders", card.get("stakeholders") or "")
            stage = st.selectbox("Stage", STAGES, index=STAGES.index(card.get("stage") or "ideation"))
            why = st.text_input("Why this stage (what was decided, and why)", card.get("stage_reason") or "")
            if st.form_submit_button("Save the card"):
                version = db.save_card(project, problem=problem, stakeholders=stakeholders, stage=stage,
                                       stage_reason=why)
                st.success(f"Card saved as version {version}.")


def _save_current(db: Store, project: str) -> None:
    source = state.current_source()
    report = widgets.loaded_report()
    if source is None or report is None:
        return
    with st.form("save_run", clear_on_submit=True):
        st.markdown(f"**Save the current data as a run** ({source.name}: {len(report.models)} model(s))")
        left, middle, right = st.columns(3)
        name = left.text_input("Run name", source.name)
        who = middle.text_input("Who")
        note = right.text_input("Note (what changed this time)")
        if st.form_submit_button("Save as a run"):
            ids = save_report(db, widgets.all_verdicts(report), path=source.path, file_name=source.name,
                              project=project, run_name=name or None, note=note or None, who=who or None)
            st.success(f"Saved {len(ids)} run(s).")


def _runs(db: Store, project: str) -> None:
    runs = store_state.read(db, "runs", project)
    if not runs:
        st.info("No runs yet: save the current data as a run above.")
        return
    table = pd.DataFrame([{"run": r.name, "saved": r.created_at, "by": r.created_by, "note": r.note,
                           **run_figures(r.summary)} for r in runs])
    st.dataframe(table, hide_index=True)
    labels = {f"{r.name} · {r.created_at:%Y-%m-%d %H:%M} · {r.id[:8]}": r for r in runs}
    picked = st.multiselect("Compare runs", list(labels), default=list(labels)[-2:], key="compare_runs")
    if len(picked) >= 2:
        chosen = [labels[label] for label in picked]
        st.code(compare_runs_text([r.name for r in chosen], [r.summary for r in chosen]), language=None)
        side = verdicts_side_by_side(chosen)
        if not side.empty:
            st.dataframe(side, hide_index=True)
        evaluations = store_state.run_evaluations(db, chosen)
        curves, points = charts.curves_frame(evaluations), charts.operating_points(evaluations)
        left, right = st.columns(2)
        charting.show(charts.roc_chart(curves, points=points), left)
        charting.show(charts.pr_chart(curves, points=points), right)
    opened = st.selectbox("Open a run (every page then works on its data)", ["(keep the current data)",
                                                                               *labels], key="open_run")
    if opened in labels and st.button("Open this run"):
        store_state.open_run(db, labels[opened])
        st.success(f"Opened {labels[opened].name}: the other pages now show it.")


def render() -> None:
    st.title("Projects and runs")
    state.init()
    try:
        db = store_state.store()
        project = store_state.project_picker(db, key="projects_project")
        _new_project(db)
        if project is None:
            st.info("Create a project to keep runs, criteria versions and decisions.")
            return
        _card(db, project)
        _save_current(db, project)
        st.subheader("Runs")
        _runs(db, project)
    except MetricBridgeError as error:
        st.error(str(error))
