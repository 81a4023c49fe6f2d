"""The HTML report: self-contained, figures from the core, every user string escaped; and the work list."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metricbridge.cli import main
from metricbridge.criteria import load_criteria
from metricbridge.evaluate import evaluate_file
from metricbridge.present import summary_sentences
from metricbridge.report import html_report
from metricbridge.scenario import load_scenario

DATA = Path(__file__).resolve().parents[1] / "data"
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def report():
    scenario = load_scenario(DATA / "scenarios" / "demo_fraud.yaml").with_changes(name=EVIL)
    return evaluate_file(DATA / "fraud_transactions.parquet", scenario=scenario,
                         criteria=load_criteria(DATA / "criteria" / "demo_fraud.yaml"), resamples=200)


def test_the_report_needs_nothing_from_the_network(report):
    page = html_report(report)
    assert "<script" not in page.lower().replace("&lt;script", "")  # no script, not even the scenario's name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]+)"', page)
    assert [link for link in links if not link.startswith(("#", "data:"))] == []
    assert page.count("<svg") >= 3  # the squares, ROC and precision-recall, inline


def test_the_report_says_what_the_core_computes(report):
    page = html_report(report)
    model = report.model("score_gbm")
    for sentence in summary_sentences(report, "score_gbm", model.threshold):
        assert sentence.replace("'", "&#x27;") in page
    result = report.verdicts["score_gbm"]
    assert ("Ready to pilot" in page) == result.met
    assert f"{result.criteria.name}</b>, version {result.criteria.version}" in page
    assert f"{round(report.outcomes['score_gbm'].at(model.threshold)['caught'], 1):,}" in page


def test_cli_report_and_work_list(tmp_path, capsys):
    out = tmp_path / "report.html"
    args = [str(DATA / "fraud_transactions.parquet"), "--scenario", str(DATA / "scenarios" / "demo_fraud.yaml"),
            "--score", "score_gbm", "--bootstrap", "100"]
    assert main(["report", *args, "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    worklist = tmp_path / "worklist.csv"
    assert main(["flag", *args, "--threshold", "0.7", "-o", str(worklist)]) == 0
    items = pd.read_csv(worklist)
    frame = pd.read_parquet(DATA / "fraud_transactions.parquet")
    expected = frame[frame["score_gbm"] >= 0.7]
    assert len(items) == len(expected) and set(items["transaction_id"]) == set(expected["transaction_id"])
    assert items["score_gbm"].is_monotonic_decreasing
    assert "row" in items.columns and "merchant_segment" in items.columns
    assert f"wrote {len(expected):,} items flagged" in capsys.readouterr().err


def test_the_work_list_at_a_score_in_the_data_includes_its_rows_and_matches_the_counts(tmp_path, capsys):
    rng = np.random.default_rng(5)
    scores = rng.choice([0.2, 0.4, 0.6, 0.8], 200)  # ties: many rows sit exactly on the threshold
    data = tmp_path / "ties.csv"
    pd.DataFrame({"id": range(200), "label": rng.integers(0, 2, 200), "score": scores}).to_csv(data, index=False)
    out = tmp_path / "worklist.csv"
    assert main(["flag", str(data), "--id", "id", "--threshold", "0.6", "-o", str(out)]) == 0
    items = pd.read_csv(out)
    assert set(items["id"]) == set(np.flatnonzero(scores >= 0.6))
    capsys.readouterr()
    assert main(["evaluate", str(data), "--threshold", "0.6", "--json"]) == 0
    point = json.loads(capsys.readouterr().out)["models"][0]["at_threshold"]
    assert len(items) == point["tp"] + point["fp"]  # the list is exactly what the figures count as flagged


def test_in_binned_mode_the_figures_at_a_given_threshold_count_the_work_list(tmp_path, capsys):
    """A threshold between two bin edges is made an edge: the reported count of flagged items is the work
    list's length, not the count at the edge above it."""
    rng = np.random.default_rng(8)
    scores = rng.random(5000)
    data = tmp_path / "many.csv"
    pd.DataFrame({"id": range(5000), "label": rng.integers(0, 2, 5000), "score": scores}).to_csv(data, index=False)
    threshold = 0.4567891  # no edge of 20 bins is here
    out = tmp_path / "worklist.csv"
    assert main(["flag", str(data), "--id", "id", "--threshold", str(threshold), "-o", str(out)]) == 0
    items = pd.read_csv(out)
    assert len(items) == int((scores >= threshold).sum())
    capsys.readouterr()
    assert main(["evaluate", str(data), "--threshold", str(threshold), "--bins", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["models"][0]
    assert result["counting"]["mode"] == "binned"
    point = result["at_threshold"]
    assert len(items) == point["tp"] + point["fp"]
    report = evaluate_file(data, mode="binned", bins=20)  # without the threshold as an edge: the edge above
    above = report.model("score").curve.at(threshold)
    assert above["tp"] + above["fp"] < len(items)


def test_the_work_list_cannot_start_a_formula(tmp_path):
    data = tmp_path / "scores.csv"
    data.write_text("id,label,score\n=HYPERLINK(\"http://x\"),1,0.9\n+cmd,0,0.8\nplain,1,0.1\n")
    out = tmp_path / "worklist.csv"
    assert main(["flag", str(data), "--id", "id", "--threshold", "0.5", "-o", str(out)]) == 0
    items = pd.read_csv(io.StringIO(out.read_text()), keep_default_na=False)
    assert list(items["id"]) == ["'=HYPERLINK(\"http://x\")", "'+cmd"]
