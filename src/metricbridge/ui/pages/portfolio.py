"""Portfolio: every project with its stage and criteria status, successes and stopped ones too, with why."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metricbridge.errors import MetricBridgeError
from metricbridge.ui import state, store_state


def render() -> None:
    st.title("Portfolio")
    state.init()
    try:
        rows = store_state.read(store_state.store(), "portfolio")
    except MetricBridgeError as error:
        st.error(str(error))
        return
    if not rows:
        st.info("No projects yet: create one on the Projects and runs page.")
        return
    for stage in dict.fromkeys(row["stage"] for row in rows):
        st.subheader(stage.capitalize())
        st.dataframe(pd.DataFrame([row for row in rows if row["stage"] == stage]), hide_index=True)
