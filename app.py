"""metricbridge app: `streamlit run app.py` opens it on the bundled demo data."""

from pathlib import Path

from metricbridge.ui import run

run(page_files=Path(__file__).parent / "pages")
