"""Exported CSV cannot start a spreadsheet formula, and numbers stay numbers."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from metricbridge.export import safe_csv


@pytest.mark.parametrize("cell", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=x", "|x"])
def test_text_cells_that_could_run_a_formula_are_defused(cell):
    frame = pd.DataFrame({"model": [cell], "recall": [-0.5]})
    back = pd.read_csv(io.BytesIO(safe_csv(frame)), keep_default_na=False)
    assert back["model"][0] == "'" + cell
    assert back["recall"][0] == -0.5  # a negative number is data, not a formula


def test_column_names_are_defused_too_and_plain_text_is_untouched():
    frame = pd.DataFrame({"=HYPERLINK()": ["ok", "fine text"]})
    text = safe_csv(frame).decode()
    assert text.splitlines() == ["'=HYPERLINK()", "ok", "fine text"]
