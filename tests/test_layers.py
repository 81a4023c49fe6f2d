"""The layering holds on what is really imported (transitively), not only on each file's import lines: the
core loads no database, no reference library and no YAML parser, and the command line on a file loads no
charts, no store and no pandas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("duckdb", "sklearn", "scipy", "pyarrow", "yaml", "pandas", "altair", "streamlit", "vl_convert")


def _loaded(statement: str) -> set[str]:
    """Top-level packages among HEAVY that ``statement`` loads in a fresh interpreter."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1])) & set(HEAVY)


@pytest.mark.parametrize(("module", "allowed"), [
    ("metricbridge", set()),
    ("metricbridge.counts", set()),
    ("metricbridge.curve", set()),
    ("metricbridge.metrics", set()),
    ("metricbridge.uncertainty", set()),
    ("metricbridge.outcomes", set()),
    ("metricbridge.judge", set()),
    ("metricbridge.scenario", set()),
    ("metricbridge.criteria", set()),
    ("metricbridge.cli", set()),
    ("metricbridge.drift", set()),
    ("metricbridge.estimate", set()),
    ("metricbridge.segments", set()),
    ("metricbridge.monitor", set()),
])
def test_a_module_loads_only_what_its_layer_needs(module, allowed):
    assert _loaded(f"import {module}") - allowed == set()


def test_the_command_line_starts_without_numpy():
    """Its parser and the commands that read a store need no arrays: ``runs list`` answers in a blink."""
    code = "import sys, metricbridge.cli\nprint('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_package_names_resolve_when_asked_for():
    assert _loaded("from metricbridge import counts_from_arrays") >= {"duckdb"}  # the loading layer's own
    assert _loaded("import metricbridge; metricbridge.ScoreCounts") == set()


def test_evaluating_a_file_from_the_command_line_loads_no_charts_store_or_pandas(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("label,score\n" + "".join(f"{i % 2},{i / 10}\n" for i in range(10)))
    statement = (f"from metricbridge.cli import main\nimport contextlib, io\n"
                 f"with contextlib.redirect_stdout(io.StringIO()):\n    main(['evaluate', {str(path)!r}, '--json'])")
    loaded = _loaded(statement)
    assert loaded & {"altair", "streamlit", "vl_convert", "sklearn", "scipy", "yaml", "pandas"} == set()
    assert "duckdb" in loaded  # what reads the file


def test_the_command_lines_default_bins_are_the_loading_layers():
    from metricbridge import cli
    from metricbridge.loading import DEFAULT_BINS

    assert cli.DEFAULT_BINS == DEFAULT_BINS
