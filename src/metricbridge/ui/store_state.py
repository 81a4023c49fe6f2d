"""The project database as the app uses it: the selected project, and opening a run's data."""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from metricbridge.criteria import load_criteria
from metricbridge.errors import MetricBridgeError
from metricbridge.evaluate import evaluate_file
from metricbridge.metrics import Evaluation
from metricbridge.scenario import load_scenario
from metricbridge.store import RunRecord, Store, default_db_path
from metricbridge.ui import state

PROJECT = "mb_project"


def store() -> Store:
    """The database of $METRICBRIDGE_DB (or the user's default); a connection per operation, none held.
    Opened (and migrated) once per path and process."""
    return _store(os.environ.get("METRICBRIDGE_DB") or str(default_db_path()))


@functools.lru_cache(maxsize=8)
def _store(path: str) -> Store:
    return Store(path)


def _stamp(path: Path) -> tuple[tuple[int, int] | None, ...]:
    """What changes whenever the database is written: the file's and its write-ahead log's time and size."""
    stamps: list[tuple[int, int] | None] = []
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            info = file.stat()
            stamps.append((info.st_mtime_ns, info.st_size))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


@functools.lru_cache(maxsize=256)
def _read(path: str, stamp: tuple[tuple[int, int] | None, ...], method: str, args: tuple[Any, ...]) -> Any:
    return getattr(_store(path), method)(*args)


def read(db: Store, method: str, *args: Any) -> Any:
    """``db.method(*args)`` for a page: each answer kept until the database file changes, so a rerun opens no
    connection (the database allows one writer per file: another process may write between two reruns, and
    the file's stamp says so). Treat the answer as read-only."""
    return _read(str(db.path), _stamp(db.path), method, args)


def selected_project() -> str | None:
    project: str | None = st.session_state.get(PROJECT)
    return project


def project_picker(db: Store, *, key: str) -> str | None:
    """Choose a project (kept across pages)."""
    projects = read(db, "projects")
    if not projects:
        return None
    current = selected_project()
    index = projects.index(current) if current in projects else len(projects) - 1
    chosen = st.selectbox("Project", projects, index=index, key=key)
    st.session_state[PROJECT] = chosen
    return chosen


def restore_from_url() -> None:
    """A link with ?run=ID opens that saved run, once per session."""
    wanted = st.query_params.get("run")
    if not wanted or st.session_state.get("mb_run_from_url") == wanted:
        return
    st.session_state["mb_run_from_url"] = wanted
    state.init()
    try:
        db = store()
        open_run(db, db.run(wanted))
    except MetricBridgeError as error:
        st.warning(f"The link names run {wanted!r}, which cannot be opened: {error}")


def open_run(db: Store, run: RunRecord) -> None:
    """Make a saved run's dataset and column choices the data every page works on."""
    folder = Path(tempfile.gettempdir()) / "metricbridge-runs"
    folder.mkdir(parents=True, exist_ok=True)
    path = db.export_dataset(run.dataset_hash, folder)
    columns = db.run_columns(run.id)
    source = state.Source(name=f"{run.name} (saved run)", path=str(path), digest=run.dataset_hash, run=run.id)
    st.session_state[state.SOURCE] = source
    st.session_state[state.CHOICES][source.digest] = state.Choices(
        label=columns.get("label"), scores=(run.model,), positive=columns.get("positive"),
        weight=columns.get("weight"), id=columns.get("id"))
    # the scenario and criteria versions the run was judged under come back with it
    scenario = db.version_text("scenario", run.scenario_version_id)
    criteria = db.version_text("criteria", run.criteria_version_id)
    state.set_scenario(load_scenario("the run's scenario", text=scenario) if scenario else None,
                       replace_editor=True)
    state.set_criteria(load_criteria("the run's criteria", text=criteria) if criteria else None, loaded=True)


@st.cache_data(show_spinner=False, max_entries=16)
def _run_evaluation(run_id: str, db_path: str) -> Evaluation:
    db = Store(db_path)
    run = db.run(run_id)
    folder = Path(tempfile.gettempdir()) / "metricbridge-runs"
    folder.mkdir(parents=True, exist_ok=True)
    columns = db.run_columns(run.id)
    report = evaluate_file(db.export_dataset(run.dataset_hash, folder), scores=[run.model],
                           label=columns.get("label"), positive=columns.get("positive"),
                           weight=columns.get("weight"), threshold=run.summary.get("threshold"))
    return replace(report.model(run.model), name=f"{run.name} ({run.created_at:%m-%d %H:%M})")


def run_evaluations(db: Store, runs: list[RunRecord]) -> list[Evaluation]:
    """Each saved run evaluated again from its stored rows (for overlaid curves), cached per run."""
    with st.spinner("Counting the saved runs' scores…"):
        return [_run_evaluation(run.id, str(db.path)) for run in runs]
