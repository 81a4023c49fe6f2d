"""Entry script for ``metricbridge app`` (``streamlit run`` of the installed package)."""

from metricbridge.ui import run

run()
