"""The one place the app draws a chart: a :class:`~metricbridge.charts.Chart` goes to ``st.vega_lite_chart``
as its cached template plus its frames (sent as Arrow), so a rerun builds no Altair object; its SVG and PNG
are made only when a download button is pressed."""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import streamlit as st

from metricbridge import charts
from metricbridge.charts import Chart

__all__ = ["show", "svg_png_downloads"]

_ENCODED: OrderedDict[int, tuple[weakref.ref[pd.DataFrame], bytes]] = OrderedDict()
_KEEP = 64  # encoded frames kept: the curves and bands of the data in use, across pages
_WORTH_KEEPING = 50  # rows: smaller frames (a marker, a rule) are encoded each time, in microseconds
_lock = threading.Lock()


def _arrow(frame: pd.DataFrame) -> bytes:
    """A frame as the Arrow IPC stream Streamlit sends, encoded once per frame object: the curves and bands
    come from caches, so a rerun re-sends their bytes without converting them again. (One thread: pyarrow
    would start a pool of threads for every frame of more than a few hundred rows.)"""
    key = id(frame)
    with _lock:
        kept = _ENCODED.get(key)
        if kept is not None and kept[0]() is frame:
            return kept[1]
    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    sink = pa.BufferOutputStream()
    with pa.RecordBatchStreamWriter(sink, table.schema) as writer:
        writer.write_table(table)
    encoded = sink.getvalue().to_pybytes()
    if len(frame) >= _WORTH_KEEPING:
        with _lock:
            _ENCODED[key] = (weakref.ref(frame), encoded)
            while len(_ENCODED) > _KEEP:
                _ENCODED.popitem(last=False)
    return encoded


def show(chart: Chart, where: Any = None, *, width: Literal["stretch", "content"] | int = "stretch") -> None:
    """Draw ``chart`` in ``where`` (a column or container; None for the page) with Streamlit's theme, as
    ``st.altair_chart`` does. Faceted charts (comparison, progress) and the icon array want
    ``width="content"``."""
    spec = chart.spec()
    spec["datasets"] = {name: _arrow(frame) for name, frame in chart.data.items()}
    (st if where is None else where).vega_lite_chart(spec=spec, width=width, theme="streamlit")


def svg_png_downloads(chart: Chart, name: str, key: str) -> None:
    """Two buttons that download ``chart`` as SVG and as PNG, converted only when pressed and without a
    rerun. The conversion runs in a thread of its own, outside the script, so it is a pure function of the
    chart."""
    left, right = st.columns(2)
    left.download_button(f"{name} (SVG)", functools.partial(charts.to_svg, chart), file_name=f"{key}.svg",
                         mime="image/svg+xml", key=f"{key}_svg", on_click="ignore")
    right.download_button(f"{name} (PNG)", functools.partial(charts.to_png, chart), file_name=f"{key}.png",
                          mime="image/png", key=f"{key}_png", on_click="ignore")
