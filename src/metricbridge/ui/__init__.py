"""The Streamlit app: the only part of metricbridge that imports streamlit.

``run()`` builds the navigation; ``app.py`` passes the folder of thin page files, and the packaged entry
(``metricbridge app``) uses the page functions directly, so both show the same pages.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from metricbridge import charts
from metricbridge.ui import background, links, store_state
from metricbridge.ui.guard import guarded
from metricbridge.ui.pages import PAGES

__all__ = ["run", "page_main", "PAGES"]

_this_run = threading.local()  # Streamlit runs each session's script in a thread of its own


def run(page_files: Path | None = None) -> None:
    st.set_page_config(page_title="metricbridge", page_icon=":material/join:", layout="wide")
    # once per server, after counting and bootstraps: the first page of each chart kind then builds nothing
    background.submit(("warm up the charts",), _warm_up, pool="warm")
    store_state.restore_from_url()
    pages = []
    for spec in PAGES:
        target = spec.render if page_files is None else page_files / f"{spec.key}.py"
        page = st.Page(target, title=spec.title, icon=spec.icon, url_path=None if spec.default else spec.key,
                       default=spec.default)
        pages.append(page)
        links.register(spec.key, page)
    navigation = st.navigation(pages)
    _this_run.navigating = True
    try:
        with guarded():
            navigation.run()
    finally:
        _this_run.navigating = False


def _warm_up(report: object) -> int:
    return charts.warm_up(before_each=lambda: background.while_busy("count", "bootstrap"))


def page_main(key: str, page_files: Path) -> None:
    """Body of a thin file in pages/: draw the page when the navigation runs it.

    A ``pages/`` folder beside app.py makes Streamlit run a page file directly when its URL is the first
    one opened after a server start; then the app's navigation is started from here instead.
    """
    if getattr(_this_run, "navigating", False):
        next(spec for spec in PAGES if spec.key == key).render()
    else:
        run(page_files)
