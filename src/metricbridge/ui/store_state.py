"""The project database as the app uses it: the selected project, and opening a run's data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from metricbridge.store import RunRecord, Store
from metricbridge.ui import state

PROJECT = "mb_project"


def store() -> Store:
    """The database of $METRICBRIDGE_DB (or the user's default); a connection per operation, none held."""
    return Store()


def selected_project() -> str | None:
    project: str | None = st.session_state.get(PROJECT)
    return project


def project_picker(db: Store, *, key: str) -> str | None:
    """Choose a project (kept across pages)."""
    projects = db.projects()
    if not projects:
        return None
    current = selected_project()
    index = projects.index(current) if current in projects else len(projects) - 1
    chosen = st.selectbox("Project", projects, index=index, key=key)
    st.session_state[PROJECT] = chosen
    return chosen


def open_run(db: Store, run: RunRecord) -> None:
    """Make a saved run's dataset and column choices the data every page works on."""
    folder = Path(tempfile.gettempdir()) / "metricbridge-runs"
    folder.mkdir(parents=True, exist_ok=True)
    path = db.export_dataset(run.dataset_hash, folder)
    columns = db.run_columns(run.id)
    source = state.Source(name=f"{run.name} (saved run)", path=str(path), digest=run.dataset_hash)
    st.session_state[state.SOURCE] = source
    st.session_state[state.CHOICES][source.digest] = state.Choices(
        label=columns.get("label"), scores=(run.model,), positive=columns.get("positive"),
        weight=columns.get("weight"), id=columns.get("id"))
