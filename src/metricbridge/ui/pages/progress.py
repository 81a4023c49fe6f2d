"""Progress: each criterion per run against its target, the plateau signal, and the decisions log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metricbridge import charts
from metricbridge.errors import MetricBridgeError
from metricbridge.progress import plateau, progress_frame
from metricbridge.ui import charting, state, store_state


def render() -> None:
    st.title("Progress")
    state.init()
    try:
        db = store_state.store()
        project = store_state.project_picker(db, key="progress_project")
        if project is None:
            st.info("No projects yet: create one on the Projects and runs page and save runs to it.")
            return
        runs = store_state.read(db, "runs", project)
        frame = progress_frame(runs)
        if frame.empty:
            st.info("No run of this project was judged against criteria yet: evaluate with criteria and save.")
        else:
            signal = plateau(frame)
            if signal is not None:
                (st.warning if signal.stalled else st.success)(signal.message)
            charting.show(charts.progress_chart(frame), width="content")
            st.caption("Dots: each run's figure (colour: its verdict); grey bars: its interval; dashed: the target.")
        st.subheader("Decisions")
        log = [{"run": run.name, "saved": run.created_at, **decision}
               for run in runs for decision in store_state.read(db, "decisions", run.id)]
        if log:
            st.dataframe(pd.DataFrame(log), hide_index=True)
        else:
            st.caption("No decisions yet.")
    except MetricBridgeError as error:
        st.error(str(error))
