"""The HTML report: self-contained, figures from the core, every user string escaped; and the work list."""

from __future__ import annotations

import html
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


# -- segments -------------------------------------------------------------------------------------------------

def _demo_segments(report):
    from metricbridge.judge import decision_columns
    from metricbridge.loading import load_predictions
    from metricbridge.segments import segment_report

    model, scenario = report.model("score_gbm"), report.scenario
    counts = load_predictions(DATA / "fraud_transactions.parquet", scores=["score_gbm"]).counts(
        "score_gbm", keys=["merchant_segment"], sums=scenario.value_columns, decisions=decision_columns(scenario))
    return segment_report(counts, "merchant_segment", threshold=model.threshold, scenario=scenario,
                          criteria=report.verdicts["score_gbm"].criteria, overall=report.verdicts["score_gbm"],
                          resamples=200)


def test_the_report_names_the_worst_segment_at_the_top_and_lists_every_segment_failing_first(report):
    segments = _demo_segments(report)
    page = html_report(report, "score_gbm", segments=[segments])
    headline, worst = segments.headline(), segments.worst()
    assert worst is not None and f"'{worst.label}' merchant segment" in headline
    shown = '<p class="fail">' + html.escape(headline) + "</p>"
    assert page.index(shown) < page.index("<h2>The agreed criteria</h2>") < page.index("<h2>Segments</h2>")
    table = page[page.index("<h2>Segments</h2>"):]
    labels = re.findall(r"<tr><td>([^<]*)</td><td><span class=\"[a-z]+\">([^<]*)</span>", table)
    assert labels == [(r.label, r.status) for r in segments.results] and labels[0] == (worst.label, "fail")
    assert f"<td>{worst.rows:,}</td><td>{100 * worst.figures['recall']:.1f}% (" in table
    for sentence in segments.sentences():
        assert html.escape(sentence) in table
    assert "<h2>Segments</h2>" not in html_report(report, "score_gbm")  # only when asked


def test_cli_report_by_segment_escapes_segment_names_and_values(tmp_path):
    rng = np.random.default_rng(2)
    n = 3000
    channel = np.where(rng.random(n) < 0.5, "web", EVIL)
    y = (rng.random(n) < 0.2).astype(int)
    score = np.where(channel == "web", np.clip(0.2 + 0.6 * y + rng.normal(0, 0.15, n), 0, 1), rng.random(n))
    data = tmp_path / "channels.csv"
    pd.DataFrame({"label": y, "score": score.round(4), "<i>channel</i>": channel}).to_csv(data, index=False)
    criteria = tmp_path / "c.yaml"
    criteria.write_text("name: c\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.7}\n")
    out = tmp_path / "report.html"
    assert main(["report", str(data), "--threshold", "0.5", "--criteria", str(criteria), "--segment",
                 "<i>channel</i>", "--bootstrap", "100", "-o", str(out)]) == 0
    page = out.read_text()
    assert "<script" not in page.lower().replace("&lt;script", "") and "<i>" not in page
    worst = "In the &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27; &lt;i&gt;channel&lt;/i&gt;"
    assert f'<p class="fail">{worst} the model catches' in page
    assert page.index(worst) < page.index("<h2>Segments</h2>") < page.rindex(worst)
    assert "<h3>By &lt;i&gt;channel&lt;/i&gt;</h3>" in page
    assert "<tr><td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td><span class=\"fail\">fail</span>" in page


def test_a_report_whose_segments_all_pass_names_none_at_the_top(tmp_path):
    rng = np.random.default_rng(3)
    n = 2000
    y = (rng.random(n) < 0.2).astype(int)
    data = tmp_path / "good.csv"
    pd.DataFrame({"label": y, "score": np.clip(0.2 + 0.6 * y + rng.normal(0, 0.1, n), 0, 1).round(4),
                  "region": rng.choice(["north", "south"], n)}).to_csv(data, index=False)
    criteria = tmp_path / "c.yaml"
    criteria.write_text("name: c\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.5}\n")
    out = tmp_path / "report.html"
    assert main(["report", str(data), "--threshold", "0.5", "--criteria", str(criteria), "--segment", "region",
                 "--bootstrap", "100", "-o", str(out)]) == 0
    page = out.read_text()
    assert '<p class="fail">' not in page and "<h3>By region</h3>" in page
    assert page.count('<span class="pass">pass</span>') >= 3  # the criterion overall and both regions
