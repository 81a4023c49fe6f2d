"""The command line: JSON figures equal scikit-learn's, bad input exits 2 with a message and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, precision_score, roc_auc_score

from metricbridge.cli import main

BAD = Path(__file__).parent / "data" / "bad"


@pytest.fixture
def two_models(tmp_path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(11)
    n = 569
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "id": [f"c{i}" for i in range(n)], "target": y,
        "score_a": np.clip(0.3 * y + rng.normal(0.35, 0.2, n), 0, 1).round(3),
        "score_b": rng.random(n).round(2), "w": rng.uniform(0.5, 2, n).round(2),
    })
    path = tmp_path / "two.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _json(capsys, *argv: str) -> dict:
    assert main(["evaluate", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object on stdout
    return json.loads(out)


def test_json_has_one_entry_per_score_column_with_figures_from_scikit_learn(two_models, capsys):
    path, frame = two_models
    result = _json(capsys, str(path), "--threshold", "0.45")
    assert result["file"] == "two.csv" and [m["name"] for m in result["models"]] == ["score_a", "score_b"]
    for model in result["models"]:
        s, y = frame[model["name"]], frame["target"]
        assert model["n"] == len(frame) and model["positives"] == y.sum()
        assert model["prevalence"] == pytest.approx(y.mean(), abs=1e-15)
        assert model["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
        assert model["average_precision"] == pytest.approx(average_precision_score(y, s), abs=1e-9)
        assert model["brier"] == pytest.approx(brier_score_loss(y, s), abs=1e-9)
        assert model["log_loss"] == pytest.approx(log_loss(y, s), abs=1e-9)
        at = model["at_threshold"]
        assert model["threshold"] == 0.45
        assert at["tp"] == ((s >= 0.45) & (y == 1)).sum() and at["fp"] == ((s >= 0.45) & (y == 0)).sum()
        assert at["precision"] == pytest.approx(precision_score(y, s >= 0.45), abs=1e-12)


def test_weights_and_a_chosen_score(two_models, capsys):
    path, frame = two_models
    result = _json(capsys, str(path), "--score", "score_b", "--weight", "w", "--id", "id")
    (model,) = result["models"]
    assert model["rows"] == len(frame) and model["n"] == pytest.approx(frame["w"].sum())
    assert model["roc_auc"] == pytest.approx(roc_auc_score(frame["target"], frame["score_b"],
                                                           sample_weight=frame["w"]), abs=1e-9)
    assert model["threshold"] == 0.5


def test_binned_counting_is_reported_and_close_to_exact(two_models, capsys):
    path, _ = two_models
    exact = _json(capsys, str(path), "--score", "score_a")["models"][0]
    binned = _json(capsys, str(path), "--score", "score_a", "--bins", "50")["models"][0]
    assert binned["counting"] == {"mode": "binned", "cells": binned["counting"]["cells"], "bins": 50}
    assert exact["counting"]["mode"] == "exact"
    assert binned["roc_auc"] == pytest.approx(exact["roc_auc"], abs=0.01)
    assert binned["brier"] == pytest.approx(exact["brier"], abs=1e-12)


def test_text_summary_speaks_in_counts(two_models, capsys):
    path, frame = two_models
    assert main(["evaluate", str(path), "--score", "score_a"]) == 0
    out = capsys.readouterr().out
    caught = int(((frame["score_a"] >= 0.5) & (frame["target"] == 1)).sum())
    assert f"catches {caught} of {frame['target'].sum()} positives" in out
    assert "Guessed label: 'target'" in out


@pytest.mark.parametrize("argv, fragment", [
    ([str(BAD / "text_in_score.csv")], "row 4: 'high'"),
    ([str(BAD / "scores_outside_unit.csv")], "--threshold"),
    ([str(BAD / "missing_scores.csv")], "--drop-missing"),
    (["no/such/file.csv"], "no such file"),
    ([str(BAD / "empty.csv"), "--bins", "1"], "bins must be from 2"),
    ([str(BAD / "empty.csv"), "--threshold", "high"], "the threshold must be a number"),
])
def test_bad_input_exits_2_with_the_message_on_stderr(argv, fragment, capsys):
    try:
        code = main(["evaluate", *argv])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert fragment in captured.err and "Traceback" not in captured.err


def test_python_dash_m_runs_the_same_command_and_never_shows_a_traceback():
    result = subprocess.run([sys.executable, "-m", "metricbridge", "evaluate", str(BAD / "binary_blob.csv")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert "binary_blob.csv" in result.stderr and "Traceback" not in result.stderr


def test_a_margin_with_a_threshold_evaluates(capsys):
    result = _json(capsys, str(BAD / "scores_outside_unit.csv"), "--threshold", "0")
    model = result["models"][0]
    assert model["brier"] is None and model["log_loss"] is None and model["roc_auc"] == 1.0
    assert model["at_threshold"]["tp"] == 2 and model["at_threshold"]["fp"] == 0


def test_a_single_class_warns_on_stderr(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("label,score\n1,0.2\n1,0.9\n")
    assert main(["evaluate", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["models"][0]["roc_auc"] is None
    assert captured.err.startswith("warning: ") and "positive" in captured.err


DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_scenario_adds_outcomes_best_threshold_and_status_quo(capsys):
    result = _json(capsys, str(DATA / "fraud_transactions.parquet"), "--scenario",
                   str(DATA / "scenarios" / "demo_fraud.yaml"), "--threshold", "0.6")
    frame = pd.read_parquet(DATA / "fraud_transactions.parquet")
    y, rule = frame["is_fraud"], frame["rule_flag"]
    volume, pi = 20000, y.mean()
    for model in result["models"]:
        s = frame[model["name"]]
        outcomes = model["outcomes"]
        assert set(outcomes) == {"period", "caught", "missed", "false_alarms", "left_alone", "actions", "hours",
                                 "value", "cost_of_errors"}
        tpr, fpr = ((s >= 0.6) & (y == 1)).sum() / y.sum(), ((s >= 0.6) & (y == 0)).sum() / (y == 0).sum()
        assert outcomes["caught"] == pytest.approx(volume * pi * tpr)
        assert outcomes["false_alarms"] == pytest.approx(volume * (1 - pi) * fpr)
        assert outcomes["hours"] == pytest.approx(outcomes["actions"] * 6 / 60)
        caught_amount = frame.loc[(s >= 0.6) & (y == 1), "amount"].mean()
        expected_value = outcomes["caught"] * 0.9 * caught_amount - outcomes["false_alarms"] * 8 \
            - outcomes["actions"] * 6 / 60 * 45
        assert outcomes["value"] == pytest.approx(expected_value)
        assert set(model["best_threshold"]) == {"threshold", "value"}
    rule_entry, nothing = result["status_quo"]
    assert rule_entry["name"] == "Amount rule"
    assert rule_entry["caught"] == pytest.approx(volume * pi * ((rule == 1) & (y == 1)).sum() / y.sum())
    assert nothing == {"name": "Do nothing", "period": "day", "caught": 0, "missed": pytest.approx(volume * pi),
                       "false_alarms": 0, "left_alone": pytest.approx(volume * (1 - pi)), "actions": 0, "hours": 0,
                       "value": 0, "cost_of_errors": nothing["cost_of_errors"]}


def test_recorded_decisions_in_words_count_yes_as_acted_on(tmp_path, capsys):
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 300)
    decided = np.where(rng.random(300) < 0.4, "Yes", "no")
    data = tmp_path / "decided.csv"
    pd.DataFrame({"label": y, "score": rng.random(300).round(3), "reviewed": decided}).to_csv(data, index=False)
    scenario = tmp_path / "s.yaml"
    scenario.write_text("volume: 1000\nvalue: {caught: 10}\nstatus_quo:\n  - {name: Today, column: reviewed}\n")
    result = _json(capsys, str(data), "--scenario", str(scenario), "--threshold", "0.5")
    today = result["status_quo"][0]
    acted = decided == "Yes"
    assert today["caught"] == pytest.approx(1000 * y.mean() * (acted & (y == 1)).sum() / y.sum())
    assert today["false_alarms"] == pytest.approx(1000 * (1 - y.mean()) * (acted & (y == 0)).sum() / (y == 0).sum())


def test_the_summary_compares_with_the_status_quo_in_words(capsys):
    assert main(["evaluate", str(DATA / "support_tickets.parquet"), "--scenario",
                 str(DATA / "scenarios" / "demo_tickets.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Per week, it catches" in out and "urgent tickets" in out
    assert "Against Keyword rule:" in out and "USD per week." in out


def test_a_bad_scenario_exits_2_naming_the_field(tmp_path, capsys):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("volume: 100\nvalue:\n  caught: 5\nperiod: fortnight\n")
    code = main(["evaluate", str(DATA / "fraud_transactions.parquet"), "--scenario", str(scenario)])
    err = capsys.readouterr().err
    assert code == 2 and "bad.yaml, line 4: period" in err and "Traceback" not in err


CRITERIA = """\
name: Fraud pilot go/no-go
version: 2
agreed_by: [Head of Fraud Operations]
agreed_on: 2026-11-20
criteria:
  - {metric: recall, at_least: RECALL}
  - {metric: actions, at_most: 600}
  - {metric: caught, at_least: 1.2, relative_to: Amount rule}
"""


def _criteria_file(tmp_path, recall: float) -> Path:
    path = tmp_path / "criteria.yaml"
    path.write_text(CRITERIA.replace("RECALL", str(recall)))
    return path


def _with_criteria(tmp_path, recall, *extra):
    return ["evaluate", str(DATA / "fraud_transactions.parquet"), "--scenario",
            str(DATA / "scenarios" / "demo_fraud.yaml"), "--criteria", str(_criteria_file(tmp_path, recall)),
            "--score", "score_gbm", "--bootstrap", "300", *extra]


def test_criteria_met_exit_0_with_verdicts_and_intervals(tmp_path, capsys):
    assert main([*_with_criteria(tmp_path, 0.4), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["models"][0]
    block = model["criteria"]
    assert block["met"] is True and block["chosen_threshold"] == model["threshold"]
    assert set(block) >= {"name", "version", "threshold", "chosen_threshold", "met", "verdicts"}
    assert [v["verdict"] for v in block["verdicts"]] == ["pass"] * 3
    assert set(block["verdicts"][0]) == {"metric", "comparison", "target", "value", "probability", "verdict",
                                         "labels_needed"}
    assert block["verdicts"][2]["target"] == pytest.approx(1.2 * 60.0)  # 1.2 x the amount rule's caught
    low, high = model["intervals"]["recall"]
    assert low <= model["at_threshold"]["recall"] <= high
    assert set(model["intervals"]) >= {"precision", "caught", "value", "hours"}


def test_criteria_not_met_exit_1_so_ci_can_gate(tmp_path, capsys):
    assert main(_with_criteria(tmp_path, 0.95)) == 1
    out = capsys.readouterr().out
    assert "NO-GO for score_gbm" in out and "no threshold meets every criterion" in out


def test_the_same_seed_gives_the_same_verdicts_and_another_seed_other_draws(tmp_path, capsys):
    runs = []
    for seed in ("7", "7", "8"):
        main([*_with_criteria(tmp_path, 0.5), "--json", "--seed", seed])
        model = json.loads(capsys.readouterr().out)["models"][0]
        runs.append((model["criteria"], model["intervals"]))
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[2][1]  # the seed reaches the resampling: other draws, other interval ends


def test_bad_criteria_exit_2_naming_the_entry(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\ncriteria:\n  - {metric: value, at_least: 5}\n")
    code = main(["evaluate", str(DATA / "fraud_transactions.parquet"), "--criteria", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "criteria[0]" in err and "needs a scenario" in err


# -- exit codes: 0 met, 1 not met, 2 bad input, 3 a bug --------------------------------------------------------

def test_a_crash_exits_3_with_one_line_and_the_traceback_kept(tmp_path, capsys, monkeypatch):
    import metricbridge.evaluate

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the counting")

    monkeypatch.setattr(metricbridge.evaluate, "evaluate_predictions", broken)
    monkeypatch.delenv("METRICBRIDGE_DEBUG", raising=False)
    code = main(["evaluate", str(DATA / "fraud_transactions.parquet")])
    err = capsys.readouterr().err
    assert code == 3  # not 1: a CI gate tells a crash from a NO-GO
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error (ZeroDivisionError: a bug in the counting)" in err and "report it" in err
    kept = Path(err.split("the details are in ")[1].split(". This is a bug")[0])
    assert "Traceback" in kept.read_text() and "ZeroDivisionError" in kept.read_text()
    main(["--debug", "evaluate", str(DATA / "fraud_transactions.parquet")])
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    monkeypatch.setenv("METRICBRIDGE_DEBUG", "1")
    main(["evaluate", str(DATA / "fraud_transactions.parquet")])
    assert "Traceback (most recent call last)" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "fragment"), [
    (["--seed", "-3"], "seed must be from 0"), (["--bins", "1"], "bins must be from 2 to 1,000,000"),
    (["--bins", str(10**9)], "limits.bins"), (["--bootstrap", "0"], "resamples must be from 2"),
    (["--bootstrap", str(10**7)], "limits.resamples"), (["--threshold", "nan"], "finite number"),
    (["--threshold", "inf"], "finite number"), (["--seed", "x"], "whole number"),
])
def test_numbers_out_of_range_exit_2_naming_the_limit(option, fragment, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", str(DATA / "fraud_transactions.parquet"), *option])
    assert exited.value.code == 2 and fragment in capsys.readouterr().err


def test_criteria_on_one_class_give_json_with_null_intervals(tmp_path, capsys):
    path = tmp_path / "one_class.csv"
    path.write_text("label,score\n0,0.1\n0,0.4\n0,0.35\n0,0.8\n")
    criteria = tmp_path / "c.yaml"
    criteria.write_text("name: c\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.5}\n"
                        "  - {metric: roc_auc, at_least: 0.7}\n")
    code = main(["evaluate", str(path), "--criteria", str(criteria), "--json", "--bootstrap", "50"])
    model = json.loads(capsys.readouterr().out)["models"][0]  # one JSON object, not a crash of the writer
    assert code == 1
    assert model["intervals"]["recall"] == [None, None] and model["roc_auc"] is None
    assert [v["value"] for v in model["criteria"]["verdicts"]] == [None, None]


def test_a_threshold_above_every_score_gives_json(tmp_path, capsys):
    criteria = _criteria_file(tmp_path, 0.5)
    code = main(["evaluate", str(DATA / "fraud_transactions.parquet"), "--scenario",
                 str(DATA / "scenarios" / "demo_fraud.yaml"), "--criteria", str(criteria), "--score", "score_gbm",
                 "--threshold", "1.5", "--bootstrap", "50", "--json"])
    model = json.loads(capsys.readouterr().out)["models"][0]
    assert code == 1 and model["threshold"] == 1.5
    assert model["at_threshold"]["tp"] == 0 and model["at_threshold"]["precision"] is None
    assert model["intervals"]["precision"] == [None, None] and model["intervals"]["recall"] == [0.0, 0.0]


def _strict_json(text: str) -> dict:
    """JSON as other tools read it: NaN and Infinity are not JSON."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in the JSON output")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("case", ["single class", "threshold above every score"])
def test_criteria_that_cannot_hold_give_valid_json_and_exit_1(tmp_path, capsys, case):
    """Both once put NaN in the intervals, and --json failed with a traceback."""
    criteria = tmp_path / "c.yaml"
    criteria.write_text("name: c\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.5}\n"
                        "  - {metric: precision, at_least: 0.2}\n")
    data = tmp_path / "scores.csv"
    labels = [0, 0, 0, 0] if case == "single class" else [0, 1, 0, 1]
    pd.DataFrame({"label": labels, "score": [0.1, 0.5, 0.7, 0.9]}).to_csv(data, index=False)
    threshold = ["--threshold", "2"] if case != "single class" else []
    assert main(["evaluate", str(data), "--criteria", str(criteria), "--bootstrap", "200", "--json", *threshold]) == 1
    result = _strict_json(capsys.readouterr().out)
    model = result["models"][0]
    assert result["met"] is False and not model["criteria"]["met"]
    recall = next(v for v in model["criteria"]["verdicts"] if v["metric"] == "recall")
    assert recall["verdict"] != "pass" and recall["probability"] == 0.0
    if case != "single class":
        assert model["at_threshold"]["tp"] == 0 and model["at_threshold"]["fp"] == 0


def test_segments_command_lists_the_failing_segment_first_and_exits_1(tmp_path, capsys):
    """Two channels, the model blind in one: its sentence comes first, the JSON names it worst, exit 1."""
    rng = np.random.default_rng(4)
    n = 4000
    channel = np.where(rng.random(n) < 0.5, "web", "app")
    y = (rng.random(n) < 0.2).astype(int)
    score = np.where(channel == "web", np.clip(0.2 + 0.6 * y + rng.normal(0, 0.15, n), 0, 1), rng.random(n))
    data = tmp_path / "channels.csv"
    pd.DataFrame({"label": y, "score": score.round(4), "channel": channel}).to_csv(data, index=False)
    criteria = tmp_path / "c.yaml"
    criteria.write_text("name: c\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.6}\n")
    args = ["segments", str(data), "--segment", "channel", "--threshold", "0.5", "--criteria", str(criteria),
            "--bootstrap", "200"]
    assert main(args) == 1
    lines = capsys.readouterr().out.splitlines()
    first = next(line for line in lines if line.startswith("- In "))
    assert "'app'" in first and "below the agreed 60%" in first
    assert main([*args, "--json"]) == 1
    result = _strict_json(capsys.readouterr().out)
    assert result["worst"] == "app"
    recalls = {s["segment"]: s["figures"]["recall"] for s in result["segments"]}
    web = (channel == "web") & (y == 1)
    assert recalls["web"] == pytest.approx((score[web].round(4) >= 0.5).mean())
    assert main(["segments", str(data), "--segment", "region"]) == 2
    assert "has no column 'region'" in capsys.readouterr().err


DEMO = DATA / "fraud_transactions.parquet"
DEMO_SCENARIO, DEMO_CRITERIA = DATA / "scenarios" / "demo_fraud.yaml", DATA / "criteria" / "demo_fraud.yaml"


def _channels_and_regions(tmp_path) -> tuple[Path, Path, pd.DataFrame]:
    """Two channels and two regions: the model ranks both channels alike but scores 'app' 0.3 lower, so at 0.5 it
    catches about half of app's positives and 98% of web's; each region mixes both channels, so overall and in
    each region recall is about 74%. With the criteria file: recall at least 60%."""
    rng = np.random.default_rng(4)
    n = 4000
    channel = np.where(rng.random(n) < 0.5, "web", "app")
    region = np.where(rng.random(n) < 0.5, "north", "south")
    y = (rng.random(n) < 0.2).astype(int)
    score = np.clip(0.2 + 0.6 * y + rng.normal(0, 0.15, n) - np.where(channel == "app", 0.3, 0), 0, 1)
    frame = pd.DataFrame({"label": y, "score": score.round(4), "channel": channel, "region": region})
    data = tmp_path / "channels.csv"
    frame.to_csv(data, index=False)
    criteria = tmp_path / "c.yaml"
    criteria.write_text("name: c\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.6}\n")
    return data, criteria, pd.read_csv(data)


def _recall(rows: pd.DataFrame, threshold: float) -> float:
    return float(((rows["score"] >= threshold) & (rows["label"] == 1)).sum() / rows["label"].sum())


def test_evaluate_judges_each_segment_column_and_exits_1_when_a_segment_fails(tmp_path, capsys):
    """The whole and every region meet 'recall at least 60%' (exit 0); the 'app' channel does not (exit 1), and
    the JSON's 'segments' holds one report per column, each segment's recall counted by hand."""
    data, criteria, frame = _channels_and_regions(tmp_path)
    base = ["evaluate", str(data), "--threshold", "0.5", "--criteria", str(criteria), "--bootstrap", "200", "--json"]
    assert main(base) == 0
    assert "segments" not in _strict_json(capsys.readouterr().out)
    assert main([*base, "--segment", "region"]) == 0  # every region passes: nothing changes the gate
    assert [s["status"] for s in _strict_json(capsys.readouterr().out)["segments"]["region"]["segments"]] == [
        "pass", "pass"]
    assert main([*base, "--segment", "channel", "--segment", "region", "--segment", "channel"]) == 1
    result = _strict_json(capsys.readouterr().out)
    assert result["met"] is True and list(result["segments"]) == ["channel", "region"]  # named twice, judged once
    channel = result["segments"]["channel"]
    assert channel["model"] == "score" and channel["key"] == "channel" and channel["threshold"] == 0.5
    assert channel["worst"] == "app" and [s["segment"] for s in channel["segments"]] == ["app", "web"]
    assert channel["warning"].startswith("Overall the model meets the criteria, but it fails them in 1 of 2")
    for column in ("channel", "region"):
        judged = result["segments"][column]["segments"]
        assert sum(s["rows"] for s in judged) == len(frame)
        for s in judged:
            rows = frame[frame[column] == s["segment"]]
            assert s["rows"] == len(rows) and s["figures"]["recall"] == pytest.approx(_recall(rows, 0.5))
    assert main([*base[:-1], "--segment", "channel"]) == 1
    out = capsys.readouterr().out
    section = out[out.index("GO for score"):]
    assert "\nscore at threshold 0.5, by 'channel':\n" in section
    first = next(line for line in section.splitlines() if line.startswith("- In "))
    assert "'app'" in first and "below the agreed 60%" in first
    assert out.count("Overall the model meets the criteria, but") == 1  # the warning once, not twice
    assert main(["evaluate", str(data), "--threshold", "0.5", "--segment", "channel"]) == 0  # no criteria, no gate
    assert "by 'channel'" in capsys.readouterr().out


def test_a_segment_column_the_file_lacks_is_bad_input_before_anything_is_saved_or_printed(tmp_path, capsys):
    data, criteria, _ = _channels_and_regions(tmp_path)
    db = tmp_path / "p.duckdb"
    code = main(["evaluate", str(data), "--threshold", "0.5", "--criteria", str(criteria), "--segment", "channel",
                 "--segment", "regio", "--json", "--save", "--project", "p", "--db", str(db)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and "has no column 'regio' (named as a segment column)" in captured.err
    assert not db.exists()
    assert main(["evaluate", str(data), "--segment", "channel", "--model", "nope"]) == 2
    assert "--model 'nope' is not a score column" in capsys.readouterr().err


def test_evaluate_on_the_demo_names_the_failing_merchant_segment_though_the_whole_passes(capsys):
    args = ["evaluate", str(DEMO), "--score", "score_gbm", "--scenario", str(DEMO_SCENARIO), "--criteria",
            str(DEMO_CRITERIA), "--bootstrap", "200", "--json"]
    assert main(args) == 0
    assert main([*args, "--segment", "merchant_segment"]) == 1
    result = _strict_json(capsys.readouterr().out.splitlines()[-1])
    segments = result["segments"]["merchant_segment"]
    assert result["met"] is True and segments["segments"][0]["status"] == "fail"
    assert segments["worst"] == segments["segments"][0]["segment"]
    status = {s["segment"]: s["status"] for s in segments["segments"]}
    assert status["jewelry"] == status["fuel"] == "fail"  # the rule's segment, and one the model barely covers
    assert segments["threshold"] == result["models"][0]["threshold"]
    assert sum(s["rows"] for s in segments["segments"]) == 40_000
    assert segments["warning"].startswith("Overall the model meets the criteria, but it fails them")


def test_segments_with_several_columns_gives_one_object_keyed_by_column(tmp_path, capsys):
    data, criteria, _ = _channels_and_regions(tmp_path)
    assert main(["segments", str(data), "--segment", "channel", "--segment", "region", "--threshold", "0.5",
                 "--criteria", str(criteria), "--bootstrap", "100", "--json"]) == 1
    result = _strict_json(capsys.readouterr().out)
    assert result["model"] == "score" and result["threshold"] == 0.5 and list(result["segments"]) == ["channel",
                                                                                                      "region"]
    assert result["segments"]["channel"]["worst"] == "app" and result["segments"]["region"]["worst"] is None


def _flags(rows: pd.DataFrame, threshold: float | None, score: str = "score") -> pd.Series:
    """Rows flagged at a threshold (None: flag none of them)."""
    return rows[score] >= threshold if threshold is not None else pd.Series(False, index=rows.index)


def test_per_segment_thresholds_without_a_scenario_spend_the_single_thresholds_flags_better(tmp_path, capsys):
    """No scenario: the budget is the items the single threshold flags, the gain caught positives; every total
    counted by hand from the file."""
    data, _, frame = _channels_and_regions(tmp_path)
    args = ["segments", str(data), "--segment", "channel", "--threshold", "0.5", "--bootstrap", "50",
            "--per-segment-thresholds"]
    assert main([*args, "--json"]) == 0
    plan = _strict_json(capsys.readouterr().out)["per_segment_thresholds"]
    single = frame["score"] >= 0.5
    assert plan["budget_source"] == "single threshold" and plan["measure"] == "caught" and plan["value"] is None
    assert plan["budget"] == single.sum() == plan["single_actions"]
    assert plan["single_caught"] == (single & (frame["label"] == 1)).sum()
    actions = caught = 0
    for share in plan["segments"]:
        rows = frame[frame["channel"] == share["segment"]]
        flags = _flags(rows, share["threshold"])
        assert share["actions"] == flags.sum() and share["caught"] == (flags & (rows["label"] == 1)).sum()
        assert share["single_actions"] == (rows["score"] >= 0.5).sum()
        actions, caught = actions + share["actions"], caught + share["caught"]
    assert plan["actions"] == actions <= plan["budget"]
    assert plan["caught"] == caught == plan["gain"] > plan["single_caught"]  # flags move from 'web' to 'app'
    by = {share["segment"]: share for share in plan["segments"]}
    assert by["app"]["threshold"] < 0.5 < by["web"]["threshold"]
    assert by["app"]["actions"] > by["app"]["single_actions"] and by["web"]["actions"] < by["web"]["single_actions"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "no scenario, so no capacity: the budget is what the single threshold flags" in out
    assert (f"{caught:,.0f} positives caught instead of {plan['single_caught']:,.0f}, for {actions:,.0f} flagged "
            f"items of the data instead of {plan['budget']:,.0f}.") in out


def _by_hand(frame: pd.DataFrame, thresholds: dict, volume: float = 20_000) -> tuple[float, float, float]:
    """The demo scenario's actions, caught and value per day at a threshold per merchant segment: it states no
    prevalence, so a segment's share of the day is its share of the rows and each row stands for volume / n items;
    a caught fraud is worth 0.9 x its amount, a false alarm -8 USD, a review 6 minutes at 45 USD an hour."""
    per_row = volume / len(frame)
    actions = caught = value = 0.0
    for segment, rows in frame.groupby("merchant_segment"):
        flags = _flags(rows, thresholds[segment], "score_gbm")
        tp, fp = flags & (rows["is_fraud"] == 1), flags & (rows["is_fraud"] == 0)
        reviews = per_row * flags.sum()
        actions, caught = actions + reviews, caught + per_row * tp.sum()
        value += per_row * (0.9 * rows.loc[tp, "amount"].sum() - 8 * fp.sum()) - reviews * 6 / 60 * 45
    return actions, caught, value


def test_per_segment_thresholds_on_the_demo_keep_within_the_review_capacity_and_gain_more(tmp_path, capsys):
    frame = pd.read_parquet(DEMO)
    args = ["segments", str(DEMO), "--segment", "merchant_segment", "--score", "score_gbm", "--bootstrap", "50",
            "--per-segment-thresholds", "--json"]
    assert main([*args, "--scenario", str(DEMO_SCENARIO), "--criteria", str(DEMO_CRITERIA)]) == 1
    result = _strict_json(capsys.readouterr().out)
    plan = result["per_segment_thresholds"]
    assert plan["budget"] == 600 and plan["budget_source"] == "scenario capacity" and plan["measure"] == "value"
    assert plan["single_threshold"] == result["threshold"]
    own = {share["segment"]: share["threshold"] for share in plan["segments"]}
    assert (plan["actions"], plan["caught"], plan["value"]) == pytest.approx(_by_hand(frame, own))
    single = _by_hand(frame, dict.fromkeys(own, result["threshold"]))
    assert (plan["single_actions"], plan["single_caught"], plan["single_value"]) == pytest.approx(single)
    assert plan["actions"] <= 600 and plan["value"] >= plan["single_value"] and plan["gain"] >= plan["single_gain"]
    uncapped = tmp_path / "uncapped.yaml"
    uncapped.write_text("\n".join(line for line in DEMO_SCENARIO.read_text().splitlines()
                                  if not line.startswith("capacity:")))
    assert main([*args, "--scenario", str(uncapped)]) == 0
    result = _strict_json(capsys.readouterr().out)
    plan = result["per_segment_thresholds"]
    single = _by_hand(frame, dict.fromkeys(own, result["threshold"]))
    assert plan["budget_source"] == "single threshold" and plan["budget"] == pytest.approx(single[0])
    assert plan["single_value"] == pytest.approx(single[2])
    assert plan["actions"] <= plan["budget"] + 1e-9 and plan["value"] >= plan["single_value"]
    assert main([*args[:-1], "--scenario", str(uncapped)]) == 0
    assert "the scenario sets no capacity, so the budget is what the single threshold takes" in capsys.readouterr().out


def _weekly_file(tmp_path) -> Path:
    from tests.test_monitor import PENDING, _weeks

    y, s, week = _weeks()
    days = pd.Timestamp("2024-06-03") + pd.to_timedelta(week * 7 + np.random.default_rng(0).integers(0, 7, len(week)),
                                                        unit="D")
    label = pd.array(y, dtype="Int64")
    label[np.isin(week, PENDING)] = pd.NA
    path = tmp_path / "weeks.parquet"
    pd.DataFrame({"ts": days, "is_fraud": label, "score": s}).to_parquet(path)
    return path


def test_monitor_finds_the_fall_estimates_pending_weeks_and_exits_1(tmp_path, capsys):
    criteria = tmp_path / "c.yaml"
    criteria.write_text("name: m\nversion: 1\ncriteria:\n  - {metric: recall, at_least: 0.3}\n")
    args = ["monitor", str(_weekly_file(tmp_path)), "--time", "ts", "--threshold", "0.5", "--criteria",
            str(criteria), "--bootstrap", "200"]
    assert main([*args, "--json"]) == 1
    result = _strict_json(capsys.readouterr().out)
    windows = result["windows"]
    assert [w["window"] for w in windows][0] == "Week 2024-06-03" and len(windows) == 8
    assert [w["estimated"] for w in windows] == [False] * 6 + [True] * 2
    assert windows[-1]["assumption"] and windows[-1]["verdicts"]["recall at least 0.3"].startswith("estimated")
    assert any(a.startswith("Week 2024-07-08: recall at least 0.3 turned from pass to") for a in result["alerts"])
    assert "labels pending" in result["latest"]
    assert main(args) == 1
    assert "alert: Week 2024-07-08" in capsys.readouterr().out


def test_monitor_names_times_that_are_not_dates(tmp_path, capsys):
    path = tmp_path / "bad_times.csv"
    path.write_text("ts,label,score\n2024-06-03,1,0.9\nlast tuesday,0,0.2\n2024-06-05,,0.4\n")
    assert main(["monitor", str(path), "--time", "ts", "--threshold", "0.5"]) == 2
    assert "row 3: 'last tuesday'" in capsys.readouterr().err


def test_monitor_on_the_demo_finds_the_planted_drift_with_the_scenario_and_its_status_quo(capsys):
    """data/fraud_monitoring.parquet: scores drift from week 9, labels are pending in weeks 11-12; the demo
    scenario's status quo (the rule's recorded decisions) is judged in every labelled week."""
    args = ["monitor", str(DATA / "fraud_monitoring.parquet"), "--time", "week", "--score", "score_gbm",
            "--threshold", "0.6", "--scenario", str(DATA / "scenarios" / "demo_fraud.yaml"),
            "--criteria", str(DATA / "criteria" / "demo_fraud.yaml"), "--bootstrap", "200", "--json"]
    assert main(args) == 1
    result = _strict_json(capsys.readouterr().out)
    windows = result["windows"]
    assert len(windows) == 12 and [w["estimated"] for w in windows] == [False] * 10 + [True] * 2
    assert not any(w["drift"]["drifted"] for w in windows[1:4]) and windows[-1]["drift"]["psi"] > 0.2
    assert any("scores drifted" in alert for alert in result["alerts"])
    assert any(v.startswith("caught at least 1.2 x") for v in windows[0]["verdicts"])


def test_monitor_compares_with_a_saved_run_as_with_its_file(tmp_path, capsys):
    """--reference RUN: the run's stored rows are the reference (the same drift as naming its file) and its
    decided threshold is the agreed one when --threshold is not given."""
    from metricbridge.store import Store

    db, test_set = tmp_path / "p.duckdb", DATA / "fraud_transactions.parquet"
    assert main(["evaluate", str(test_set), "--score", "score_gbm", "--threshold", "0.55", "--save", "--project",
                 "fraud", "--db", str(db)]) == 0
    capsys.readouterr()
    run_id = Store(db).runs("fraud")[0].id
    live = ["monitor", str(DATA / "fraud_monitoring.parquet"), "--time", "week", "--score", "score_gbm", "--json"]
    assert main([*live, "--reference", run_id[:10], "--db", str(db)]) == 1
    by_run = _strict_json(capsys.readouterr().out)
    main([*live, "--reference", str(test_set), "--threshold", "0.55"])
    by_file = _strict_json(capsys.readouterr().out)
    assert by_run["threshold"] == 0.55 == by_file["threshold"]
    assert [w["drift"]["psi"] for w in by_run["windows"]] == [w["drift"]["psi"] for w in by_file["windows"]]
    assert main([*live, "--reference", "no-such-run", "--db", str(db)]) == 2
    assert "neither a file nor a saved run" in capsys.readouterr().err
    assert main(live) == 2
    assert "needs the agreed threshold" in capsys.readouterr().err


def test_evaluate_reads_a_folder_of_parts_in_place_with_the_figures_of_the_whole_file(tmp_path, capsys):
    frame = pd.read_parquet(DEMO)
    folder = tmp_path / "parts"
    folder.mkdir()
    for index, part in enumerate((frame.iloc[:15_000], frame.iloc[15_000:])):
        part.to_parquet(folder / f"part-{index}.parquet")
    args = ["--score", "score_gbm", "--label", "is_fraud", "--threshold", "0.5", "--json"]
    assert main(["evaluate", str(DEMO), *args]) == 0
    whole = _strict_json(capsys.readouterr().out)["models"]
    for source in (folder, str(folder / "*.parquet")):
        assert main(["evaluate", str(source), *args]) == 0
        assert _strict_json(capsys.readouterr().out)["models"] == whole
    assert main(["evaluate", str(folder), *args, "--save", "--project", "p", "--db", str(tmp_path / "p.duckdb")]) == 2
    assert "--save keeps the data with the run, so it needs one file" in capsys.readouterr().err


def test_monitor_reads_a_folder_of_parts_in_place_with_the_windows_of_the_whole_file(tmp_path, capsys):
    """The monitoring demo split into Parquet parts (read where they are, out of core): the same windows,
    verdicts, drift and estimates, to the last digit, as the file loaded."""
    demo = DATA / "fraud_monitoring.parquet"
    frame = pd.read_parquet(demo)
    folder = tmp_path / "parts"
    folder.mkdir()
    for index, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{index}.parquet")
    argv = ["--time", "week", "--threshold", "0.6", "--score", "score_gbm", "--scenario",
            str(DATA / "scenarios" / "demo_fraud.yaml"), "--criteria", str(DATA / "criteria" / "demo_fraud.yaml"),
            "--bootstrap", "200", "--json"]
    outputs = []
    for source in (folder, demo):
        assert main(["monitor", str(source), *argv]) == 1  # the demo's recall falls: an alert
        outputs.append(json.loads(capsys.readouterr().out))
    in_place, loaded = outputs
    assert in_place == loaded
    assert [w["estimated"] for w in in_place["windows"]][-2:] == [True, True]
