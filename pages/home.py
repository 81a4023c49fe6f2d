"""The home page (what app.py opens on); its body lives in metricbridge.ui."""

from pathlib import Path

from metricbridge.ui import page_main

page_main("home", Path(__file__).parent)
