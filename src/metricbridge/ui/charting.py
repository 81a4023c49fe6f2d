"""The one place the app draws a chart: a :class:`~metricbridge.charts.Chart` goes to ``st.vega_lite_chart``
as its cached template plus its frames (sent as Arrow), so a rerun builds no Altair object; its SVG and PNG
are made only when a download button is pressed."""

from __future__ import annotations

import functools
from typing import Any, Literal

import streamlit as st

from metricbridge import charts
from metricbridge.charts import Chart

__all__ = ["show", "svg_png_downloads"]


def show(chart: Chart, where: Any = None, *, width: Literal["stretch", "content"] | int = "stretch") -> None:
    """Draw ``chart`` in ``where`` (a column or container; None for the page) with Streamlit's theme, as
    ``st.altair_chart`` does. Faceted charts (comparison, progress) and the icon array want
    ``width="content"``."""
    (st if where is None else where).vega_lite_chart(spec=chart.spec(), width=width, theme="streamlit")


def svg_png_downloads(chart: Chart, name: str, key: str) -> None:
    """Two buttons that download ``chart`` as SVG and as PNG, converted only when pressed and without a
    rerun. The conversion runs in a thread of its own, outside the script, so it is a pure function of the
    chart."""
    left, right = st.columns(2)
    left.download_button(f"{name} (SVG)", functools.partial(charts.to_svg, chart), file_name=f"{key}.svg",
                         mime="image/svg+xml", key=f"{key}_svg", on_click="ignore")
    right.download_button(f"{name} (PNG)", functools.partial(charts.to_png, chart), file_name=f"{key}.png",
                          mime="image/png", key=f"{key}_png", on_click="ignore")
