"""The monitoring page; its body lives in metricbridge.ui so the installed package carries the whole app."""

from pathlib import Path

from metricbridge.ui import page_main

page_main("monitoring", Path(__file__).parent)
