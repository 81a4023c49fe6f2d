"""Every page in AppTest: the demo on a first visit, a changed threshold, an uploaded file, a bad upload."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metricbridge.evaluate import evaluate_file

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
DEMO = ROOT / "data" / "fraud_transactions.parquet"
BAD = Path(__file__).parent / "data" / "bad"
GOOD = Path(__file__).parent / "data" / "good"
TIMEOUT = 60
SCENARIO = ROOT / "data" / "scenarios" / "demo_fraud.yaml"


CRITERIA = ROOT / "data" / "criteria" / "demo_fraud.yaml"


@functools.cache
def _demo():
    """What the app opens on, as the command line evaluates it: the fraud demo under its scenario and
    criteria, each model at its own threshold chosen against the criteria."""
    from metricbridge.criteria import load_criteria
    from metricbridge.scenario import load_scenario

    return evaluate_file(DEMO, scenario=load_scenario(SCENARIO), criteria=load_criteria(CRITERIA))


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _selectbox(at: AppTest, label: str):
    return next(box for box in at.selectbox if box.label == label)


def _open(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_home_opens_on_the_fraud_demo_with_its_figures():
    at = _app()
    expected = _demo().model("score_gbm").at_threshold
    assert _metric(at, "Rows") == "40,000"
    headline = next(m.value for m in at.markdown if "At threshold" in m.value)
    assert f"catches **{expected['tp']:,.0f}**" in headline and f"misses **{expected['fn']:,.0f}**" in headline


def test_metrics_page_follows_the_threshold():
    at = _open(_app(), "metrics")
    report = _demo()
    at_half = report.model("score_gbm").at_threshold
    assert _metric(at, "Caught") == f"{at_half['tp']:,.0f}"
    at.number_input[0].set_value(0.2).run()
    assert not at.exception
    at_low = report.at(0.2).model("score_gbm").at_threshold
    assert at_low["tp"] > at_half["tp"]
    assert _metric(at, "Caught") == f"{at_low['tp']:,.0f}"
    assert _metric(at, "False alarms") == f"{at_low['fp']:,.0f}"
    assert at.slider[0].value == pytest.approx(0.2)
    assert at.query_params["threshold"] in ("0.2", ["0.2"])


def test_metrics_page_shows_the_second_model_and_the_table_of_all():
    at = _open(_app(), "metrics")
    at.selectbox(key="model_picker").set_value("score_logreg").run()
    expected = _demo().model("score_logreg").at_threshold
    assert _metric(at, "Caught") == f"{expected['tp']:,.0f}"
    table = next(m.value for m in at.markdown if m.value.startswith("| model |"))
    rows = table.splitlines()[2:]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == ["score\\_gbm", "score\\_logreg"]
    demo = _demo()
    for row, name in zip(rows, ("score_gbm", "score_logreg"), strict=True):  # each at its own threshold
        assert f"| {demo.model(name).threshold:.4g} |" in row
        assert f"| {demo.model(name).at_threshold['tp']:,.0f} |" in row


def test_the_threshold_is_shared_between_pages():
    at = _open(_app(), "metrics")
    at.slider[0].set_value(0.3).run()
    at.switch_page("pages/home.py").run()
    assert any("At threshold 0.3," in m.value for m in at.markdown)


def test_data_page_shows_guesses_profile_and_preview_of_the_demo():
    at = _open(_app(), "data")
    assert _selectbox(at, "Label (the true outcome)").value == "is_fraud"
    assert _metric(at, "Positives") == "659"
    assert any("reads like a label" in c.value for c in at.caption)
    assert len(at.dataframe) == 2


def test_data_page_switches_to_the_ticket_demo():
    at = _open(_app(), "data")
    at.radio[0].set_value("Demo: Support-ticket triage").run()
    assert not at.exception
    expected = evaluate_file(ROOT / "data" / "support_tickets.parquet")
    assert _metric(at, "Positives") == f"{expected.data.positive_rows:,}"


def _upload(at: AppTest, path: Path, mime: str = "text/csv") -> AppTest:
    at.radio[0].set_value("Upload a file").run()
    at.get("file_uploader")[0].set_value((path.name, path.read_bytes(), mime)).run()
    assert not at.exception, at.exception
    return at


def test_an_uploaded_file_is_evaluated_on_every_page():
    path = GOOD / "semicolon_yes_no.csv"
    at = _upload(_open(_app(), "data"), path)
    frame = pd.read_csv(path, sep=";")
    assert _metric(at, "Rows used") == "200"
    assert _metric(at, "Positives") == f"{(frame['outcome'] == 'yes').sum()}"
    _open(at, "metrics")
    expected = evaluate_file(path).model("model_a_score").at_threshold
    assert _metric(at, "Caught") == f"{expected['tp']:,.0f}"


def test_a_bad_upload_shows_the_specific_error_and_keeps_the_demo():
    at = _upload(_open(_app(), "data"), BAD / "binary_blob.csv")
    assert any("'binary_blob.csv'" in e.value and "not a table" in e.value for e in at.error)
    assert _metric(at, "Positives") == "659"  # the demo is still loaded


# bad files that are bad only under an option (a weight column, a positive class) are the CLI's to test
_NEED_AN_OPTION = {"negative_weights.csv", "text_in_weight.csv", "wrong_positive.csv"}
BAD_TABLES = sorted(p for p in BAD.iterdir()
                    if p.suffix in (".csv", ".parquet", ".tsv", ".txt") and p.name not in _NEED_AN_OPTION)


@pytest.mark.parametrize("path", BAD_TABLES[::3], ids=lambda p: p.name)
def test_a_sample_of_bad_uploads_each_show_an_error_naming_the_file_and_the_app_goes_on(path):
    at = _upload(_open(_app(), "data"), path)
    assert any(f"'{path.name}'" in e.value for e in at.error), [e.value for e in at.error]
    _open(at, "metrics")  # another page says the same, and nothing breaks
    assert not at.exception and (not at.error or any(f"'{path.name}'" in e.value for e in at.error))
    _open(at, "data")
    at.radio[0].set_value(at.radio[0].options[0]).run()  # back to the demo: its figures, nothing lost
    _open(at, "metrics")
    assert _metric(at, "Caught") == f"{_demo().model('score_gbm').at_threshold['tp']:,.0f}"


def test_an_upload_that_needs_a_choice_asks_and_then_works():
    at = _upload(_open(_app(), "data"), BAD / "unnamed_labels.csv")
    assert any("--positive" in e.value for e in at.error)
    _selectbox(at, "Positive class").set_value("churned").run()
    assert not at.error and _metric(at, "Positives") == "2"


def test_missing_scores_can_be_dropped_with_the_checkbox():
    at = _upload(_open(_app(), "data"), BAD / "missing_scores.csv")
    assert any("row 3" in e.value and "row 6" in e.value for e in at.error)
    at.checkbox[0].check().run()
    assert not at.error and _metric(at, "Rows used") == "3"
    assert any("dropped 2 rows" in i.value for i in at.info)


def test_a_margin_upload_starts_at_its_median_and_says_so(tmp_path):
    path = tmp_path / "margins.csv"
    path.write_text("label,margin\n1,2.5\n0,-1.5\n1,0.3\n0,-3.0\n1,1.0\n0,0.5\n")
    at = _upload(_open(_app(), "data"), path)
    assert any("not probabilities" in i.value for i in at.info)
    _open(at, "metrics")
    assert at.slider[0].min < 0 < at.slider[0].max
    assert any("calibration" in i.value.lower() for i in at.info)



def _number_input(at: AppTest, label: str):
    return next(box for box in at.number_input if box.label == label)


def _best_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Best within capacity"))


def test_outcomes_page_opens_with_the_demo_scenario_and_its_figures():

    at = _open(_app(), "outcomes")
    report = _demo()
    point = report.outcomes["score_gbm"].at(report.model("score_gbm").threshold)
    assert _metric(at, "Frauds caught") == f"{point['caught']:,.1f}".rstrip("0").rstrip(".")
    assert _metric(at, "Value per day") == f"+{point['value']:,.0f} USD"
    outcomes = report.outcomes["score_gbm"]
    assert f"threshold **{outcomes.thresholds[outcomes.best_index]:.4g}**" in _best_line(at)


def test_editing_the_capacity_moves_the_best_threshold_and_the_value():
    at = _open(_app(), "outcomes")
    before = _best_line(at)
    _number_input(at, "Most manual reviews per day").set_value(1500.0).run()
    assert not at.exception and not at.error
    after = _best_line(at)
    assert after != before
    from metricbridge.scenario import load_scenario

    scenario = load_scenario(SCENARIO).with_changes(capacity=1500.0)
    outcomes = evaluate_file(DEMO, scenario=scenario).outcomes["score_gbm"]
    assert f"threshold **{outcomes.thresholds[outcomes.best_index]:.4g}**" in after
    assert f"+{outcomes.value[outcomes.best_index]:,.0f} USD" in after


def test_a_preset_replaces_the_scenario():
    at = _open(_app(), "outcomes")
    next(box for box in at.selectbox if box.label == "Start from a ready scenario").set_value(
        "Fraud review queue").run()
    assert not at.exception and not at.error
    assert any(m.label == "Value per day" for m in at.metric)
    assert any(e.label == "Scenario: Fraud review queue" for e in at.expander)


def test_status_quo_page_compares_in_words_and_finds_the_matches():

    at = _open(_app(), "status_quo")
    assert not at.error
    report = _demo()
    rule = report.status_quo[0].point
    model = report.outcomes["score_gbm"].at(report.model("score_gbm").threshold)
    assert any(f"{model['caught'] - rule['caught']:,.0f} more frauds caught" in c.value for c in at.caption)
    matches = [m.value for m in at.markdown if m.value.startswith("- **Amount rule**")]
    assert matches and "catches as many" in matches[0]
    assert any("stays best while that ratio is between" in m.value for m in at.markdown)


def test_outcome_pages_ask_for_a_scenario_for_an_upload():
    at = _upload(_open(_app(), "data"), GOOD / "semicolon_yes_no.csv")
    _open(at, "outcomes")
    assert any("Pick a ready scenario" in i.value for i in at.info)
    _open(at, "status_quo")
    assert any("Choose a scenario" in i.value for i in at.info)


def test_criteria_page_shows_the_agreement_verdicts_and_the_chosen_threshold():
    at = _open(_app(), "criteria")
    assert not at.error
    result = _demo().verdicts["score_gbm"]
    assert any("version 2" in m.value and "Head of Fraud Operations" in m.value for m in at.markdown)
    lines = [m.value for m in at.markdown if "-badge[" in m.value]
    assert len(lines) == len(result.verdicts)
    for line, verdict in zip(lines, result.verdicts, strict=True):
        assert f":{ {'pass': 'green', 'fail': 'red', 'uncertain': 'orange'}[verdict.verdict]}-badge" in line
        assert f"{verdict.probability:.0%}" in line
    assert any(f"Chosen threshold: {result.choice.chosen:.4g}" in s.value for s in at.success)


def test_moving_the_threshold_changes_a_verdict():
    at = _open(_app(), "criteria")
    # a lower threshold flags more than the team can review, so "actions at most 600" fails
    at.number_input[0].set_value(0.3).run()
    lines = [m.value for m in at.markdown if "actions at most 600" in m.value]
    assert lines and ":red-badge[fail]" in lines[0]
    assert any(":red[Not met]" in m.value for m in at.markdown)


def test_an_edit_shows_the_change_and_makes_the_next_version_once_someone_agrees():
    at = _open(_app(), "criteria")
    next(s for s in at.slider if s.label == "How sure must we be").set_value(0.95).run()
    assert not at.error
    assert any("confidence: 0.9 -> 0.95" in m.value for m in at.markdown)
    assert not at.get("download_button")
    next(t for t in at.text_input if t.label.startswith("Agreed by")).input("Head of Fraud Operations").run()
    buttons = at.get("download_button")
    assert buttons and "version 3" in buttons[0].proto.label


@pytest.fixture
def empty_db(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICBRIDGE_DB", str(tmp_path / "mb.duckdb"))
    return tmp_path / "mb.duckdb"


def test_projects_page_creates_a_project_saves_runs_and_compares_them(empty_db):
    from metricbridge.store import Store

    at = _open(_app(), "projects")
    assert any("Create a project" in i.value for i in at.info)
    next(t for t in at.text_input if t.label == "New project").input("Fraud pilot")
    next(b for b in at.button if b.label == "Create project").click().run()
    next(t for t in at.text_input if t.label == "Note (what changed this time)").input("week 1")
    next(b for b in at.button if b.label == "Save as a run").click().run()
    assert not at.exception and any("Saved 2 run(s)" in s.value for s in at.success)
    runs = Store(empty_db).runs("Fraud pilot")
    assert [r.model for r in runs] == ["score_gbm", "score_logreg"] and runs[0].note == "week 1"
    assert runs[0].summary["criteria"]["met"] is True  # the demo's criteria were judged and kept
    assert any("against" in c.value for c in at.code)  # the two runs compared in words
    assert len(at.get("vega_lite_chart")) == 2  # their ROC and precision-recall curves, overlaid
    side = next(d.value for d in at.dataframe if "criterion" in d.value.columns)
    assert len(side) == 4 and side.shape[1] == 3  # four criteria, one column per run


def test_opening_a_saved_run_makes_every_page_work_on_it(empty_db):
    from metricbridge.runs import save_report
    from metricbridge.store import Store

    report = evaluate_file(GOOD / "semicolon_yes_no.csv")
    save_report(Store(empty_db), report, path=GOOD / "semicolon_yes_no.csv", file_name="churn.csv",
                project="Churn", run_name="week 1")
    at = _open(_app(), "projects")
    box = next(s for s in at.selectbox if s.label.startswith("Open a run"))
    box.set_value(box.options[1]).run()
    next(b for b in at.button if b.label == "Open this run").click().run()
    assert not at.exception
    _open(at, "metrics")
    assert _metric(at, "Caught") == f"{report.model('model_a_score').at_threshold['tp']:,.0f}"


def test_opening_a_run_brings_back_the_criteria_it_was_judged_under(empty_db):
    from metricbridge.runs import save_report
    from metricbridge.store import Store

    report = _demo()
    save_report(Store(empty_db), report, path=DEMO, file_name=DEMO.name, project="Fraud pilot", run_name="week 1")
    at = _open(_app(), "projects")
    box = next(s for s in at.selectbox if s.label.startswith("Open a run"))
    box.set_value(box.options[1]).run()
    next(b for b in at.button if b.label == "Open this run").click().run()
    _open(at, "criteria")
    assert any("Fraud pilot go/no-go" in m.value and "version 2" in m.value for m in at.markdown)
    history = next(d.value for d in at.dataframe if "agreed by" in d.value.columns)
    assert list(history["version"]) == [2]


def test_progress_and_portfolio_pages_show_the_project(empty_db):
    from metricbridge.runs import save_report
    from metricbridge.store import Store

    store = Store(empty_db)
    report = _demo()
    for week in (1, 2, 3):
        save_report(store, report, path=DEMO, file_name=DEMO.name, project="Fraud pilot", run_name=f"week {week}")
    store.save_card("Fraud pilot", problem="Too much fraud slips through.", stakeholders="Fraud ops",
                    stage="prototyping", stage_reason="Pilot agreed on 2026-11-20")
    at = _open(_app(), "progress")
    assert not at.error and len(at.get("vega_lite_chart")) == 1
    assert any("not moved" in w.value for w in at.warning)  # three identical runs: a plateau for score_logreg
    assert len(at.dataframe) == 1  # the decisions log
    _open(at, "portfolio")
    table = at.dataframe[0].value
    assert list(table["project"]) == ["Fraud pilot"] and list(table["stage"]) == ["prototyping"]
    assert list(table["why"]) == ["Pilot agreed on 2026-11-20"]


JARGON = ("precision", "recall", "tp", "fp", "threshold", "auc", "roc", "f1", "positive")


def _visible_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.label + " " + m.value for m in at.metric]
    parts += [s.label for s in at.select_slider] + [t.value for t in at.title]
    parts += [b.proto.label for b in at.get("download_button")]
    return " ".join(parts).lower()


def test_the_stakeholder_page_speaks_without_jargon_and_its_control_moves_the_figures():
    at = _open(_app(), "stakeholder")
    assert not at.error
    text = _visible_text(at)
    for word in JARGON:
        assert not re.search(rf"\b{word}\b", text), word
    assert any(":green[Ready to pilot]" in m.value for m in at.markdown)
    report = _demo()
    outcomes = report.outcomes["score_gbm"]
    assert _metric(at, "Frauds caught per day") == f"{outcomes.at(report.model('score_gbm').threshold)['caught']:,.0f}"
    before = _metric(at, "Manual reviews per day")
    at.select_slider[0].set_value("far more").run()
    after = _metric(at, "Manual reviews per day")
    assert float(after.replace(",", "")) > float(before.replace(",", ""))
    from metricbridge.present import threshold_for_actions

    agreed = outcomes.at(report.model("score_gbm").threshold)["actions"]
    expected = outcomes.at(threshold_for_actions(outcomes, agreed * 1.5))
    assert after == f"{expected['actions']:,.0f}"


def test_a_link_with_a_scenario_opens_that_scenario():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["scenario"] = "fraud_review"
    at.run()
    _open(at, "outcomes")
    assert any(e.label == "Scenario: Fraud review queue" for e in at.expander)
    assert at.query_params["scenario"] in ("fraud_review", ["fraud_review"])


def test_the_metrics_page_offers_the_work_list():
    at = _open(_app(), "metrics")
    buttons = [b.proto.label for b in at.get("download_button")]
    assert any(label.startswith("Work list: the score_gbm flags") for label in buttons)


def test_a_link_with_a_run_opens_that_run(empty_db):
    from metricbridge.runs import save_report
    from metricbridge.store import Store

    report = evaluate_file(GOOD / "semicolon_yes_no.csv")
    (run_id, _) = save_report(Store(empty_db), report, path=GOOD / "semicolon_yes_no.csv", file_name="churn.csv",
                              project="Churn", run_name="week 1")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["run"] = run_id[:12]
    at.run()
    _open(at, "metrics")
    assert _metric(at, "Caught") == f"{report.model('model_a_score').at_threshold['tp']:,.0f}"
    assert at.query_params["run"] in (run_id[:12], [run_id[:12]])


def test_a_bug_on_a_page_is_one_line_and_the_session_goes_on(monkeypatch):
    from metricbridge.ui.pages import metrics

    at = _open(_app(), "data")
    at.radio[0].set_value("Demo: Support-ticket triage").run()  # something chosen, to see that it stays

    def broken(model):
        raise RuntimeError("a bug in the cards")

    monkeypatch.setattr(metrics, "_outcome_cards", broken)
    monkeypatch.delenv("METRICBRIDGE_DEBUG", raising=False)
    _open(at, "metrics")
    line = next(e.value for e in at.error if "internal error" in e.value)
    assert "RuntimeError: a bug in the cards" in line and "report it" in line and "Traceback" not in line
    monkeypatch.undo()
    _open(at, "home")
    assert any("Support-ticket triage" in s.value for s in at.subheader)  # the data chosen is still loaded
    _open(at, "metrics")
    assert not [e for e in at.error if "internal error" in e.value]


def test_segments_page_lists_the_failing_segment_first_as_the_command_line_does(capsys):
    """The demo split by merchant segment at score_gbm's threshold: the page's first sentence is the core's
    (and the CLI's) worst segment, and the figure radio redraws without a recount."""
    from metricbridge.cli import main

    at = _open(_app(), "segments")
    assert _selectbox(at, "Split the items by").value == "merchant_segment"
    if any(box.label == "Model" for box in at.selectbox):
        _selectbox(at, "Model").set_value("score_gbm").run()
    sentences = [m.value for m in at.markdown if m.value.startswith("- In ")]
    threshold = _demo().model("score_gbm").threshold
    assert main(["segments", str(DEMO), "--segment", "merchant_segment", "--score", "score_gbm", "--threshold",
                 str(threshold), "--scenario", str(SCENARIO), "--criteria", str(CRITERIA), "--json"]) in (0, 1)
    worst = json.loads(capsys.readouterr().out)["worst"]
    assert worst is not None and f"'{worst}'" in sentences[0]
    at.radio(key="segment_figure").set_value("precision").run()
    assert not at.exception


MONITORING = ROOT / "data" / "fraud_monitoring.parquet"


def _monitoring_demo() -> AppTest:
    """The app on the monitoring demo, score_gbm at threshold 0.6 (as a shared link opens it)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"demo": "monitoring", "model": "score_gbm", "threshold": "0.6"})
    at.run()
    assert not at.exception
    return at


def test_monitoring_page_finds_what_the_demo_plants_and_says_what_the_command_line_says(capsys):
    """Weeks 9 and 10 fail recall after passing, their scores drift, weeks 11 and 12 are estimates: the page's
    sentence and alerts are the CLI's, window for window."""
    from metricbridge.cli import main

    at = _open(_monitoring_demo(), "monitoring")
    time = _selectbox(at, "Time column").value
    assert time in ("timestamp", "week")  # the demo has both: weeks of either are the same
    assert main(["monitor", str(MONITORING), "--time", time, "--window", "week", "--threshold", "0.6", "--score",
                 "score_gbm", "--scenario", str(SCENARIO), "--criteria", str(CRITERIA), "--json"]) == 1
    expected = json.loads(capsys.readouterr().out)
    boxes = [*at.error, *at.warning, *at.success]
    assert any(box.value == expected["latest"] for box in boxes)
    assert expected["latest"].startswith("Week 2024-07-15") and "labels pending" in expected["latest"]
    alerts = next(w.value for w in at.warning if "alerts**" in w.value)
    assert [line.removeprefix("- ") for line in alerts.splitlines()[1:]] == expected["alerts"]
    windows = expected["windows"]
    assert [w["estimated"] for w in windows] == [False] * 10 + [True] * 2
    recall = [w["verdicts"]["recall at least 0.5"] for w in windows]
    assert recall[0] == "pass" and recall[9] == "fail"  # falling recall after week 8
    drifted = [w["drift"]["drifted"] for w in windows]
    assert not any(drifted[:8]) and all(drifted[9:])  # scores drift in the last weeks
    table = at.dataframe[0].value
    assert list(table["window"]) == [w["window"] for w in windows]
    assert list(table["labels"]).count("pending (estimated)") == 2


def test_monitoring_drift_thresholds_rejudge_without_a_new_bootstrap():
    """Raising the PSI limit and switching the KS rule off leaves fewer drifted windows, at once."""
    at = _open(_monitoring_demo(), "monitoring")
    before = at.dataframe[0].value["drifted"].sum()
    at.number_input(key="drift_psi").set_value(1.0)
    at.number_input(key="drift_ks").set_value(0.0).run()
    assert not at.exception
    after = at.dataframe[0].value["drifted"].sum()
    assert before >= 2 and after == 0


def test_segments_page_finds_the_channel_the_monitoring_demo_serves_worse():
    at = _open(_monitoring_demo(), "segments")
    _selectbox(at, "Split the items by").set_value("channel").run()
    sentences = [m.value for m in at.markdown if m.value.startswith("- In ")]
    assert sentences and "'pos'" in sentences[0]


def test_monitoring_compares_with_a_saved_run_as_the_command_line_does(empty_db, capsys):
    """The test set saved as a run is the reference: the page's drift is the CLI's with that run's id."""
    from metricbridge.cli import main
    from metricbridge.runs import save_report
    from metricbridge.store import Store

    save_report(Store(empty_db), _demo(), path=DEMO, file_name=DEMO.name, project="Fraud pilot", run_name="test set")
    at = _open(_monitoring_demo(), "monitoring")
    box = _selectbox(at, "Or compare with a saved run (its rows are the reference)")
    box.set_value(next(o for o in box.options if "test set" in o)).run()
    assert not at.exception
    assert any("Reference: the saved run Fraud pilot / test set" in c.value for c in at.caption)
    run_id = next(r.id for r in Store(empty_db).runs("Fraud pilot") if r.model == "score_gbm")
    time = _selectbox(at, "Time column").value
    main(["monitor", str(MONITORING), "--time", time, "--threshold", "0.6", "--score", "score_gbm", "--scenario",
          str(SCENARIO), "--criteria", str(CRITERIA), "--reference", run_id, "--db", str(empty_db), "--json"])
    expected = [w["drift"]["psi"] for w in json.loads(capsys.readouterr().out)["windows"]]
    assert list(at.dataframe[0].value["PSI"]) == pytest.approx(expected, rel=1e-12)


def test_segments_page_shows_per_segment_thresholds_as_the_command_line_does(capsys):
    from metricbridge.cli import main

    at = _open(_app(), "segments")
    if any(box.label == "Model" for box in at.selectbox):
        _selectbox(at, "Model").set_value("score_gbm").run()
    threshold = _demo().model("score_gbm").threshold
    main(["segments", str(DEMO), "--segment", "merchant_segment", "--score", "score_gbm", "--threshold",
          str(threshold), "--scenario", str(SCENARIO), "--criteria", str(CRITERIA), "--per-segment-thresholds"])
    printed = [line.strip() for line in capsys.readouterr().out.splitlines()]
    comparison = next(line for line in printed if line.startswith("Against the single threshold"))
    assert any(m.value == comparison for m in at.markdown)
    table = next(d.value for d in at.dataframe if "single_actions" in d.value.columns)
    assert table["actions"].sum() <= 600 + 1e-6  # the scenario's capacity, shared


def test_a_large_dataset_opened_by_path_is_read_in_place_with_the_figures_of_the_whole_file(tmp_path):
    """The Data page's "Open a large dataset": a folder of Parquet parts, counted out of core, gives the
    demo file's figures; a path that is not there is refused and the demo stays loaded."""
    frame = pd.read_parquet(DEMO)
    folder = tmp_path / "parts"
    folder.mkdir()
    for index, part in enumerate((frame.iloc[:25_000], frame.iloc[25_000:])):
        part.to_parquet(folder / f"part-{index}.parquet")
    at = _open(_app(), "data")
    at.radio[0].set_value("Open a large dataset").run()
    box = next(t for t in at.text_input if t.label == "Path or table")
    box.input(str(tmp_path / "nowhere"))
    next(b for b in at.button if b.label == "Open").click().run()
    assert any("no such file" in e.value for e in at.error)
    box = next(t for t in at.text_input if t.label == "Path or table")
    box.input(str(folder))
    next(b for b in at.button if b.label == "Open").click().run()
    assert not at.exception
    _open(at, "home")
    assert any("parts" in s.value for s in at.subheader)
    _open(at, "metrics")
    assert not at.exception
    if any(box.label == "Model" for box in at.selectbox):
        _selectbox(at, "Model").set_value("score_gbm").run()
    whole = evaluate_file(DEMO, scores=["score_gbm"], threshold=float(_metric_threshold(at)))
    assert _metric(at, "Caught") == f"{whole.model('score_gbm').at_threshold['tp']:,.0f}"


def _metric_threshold(at: AppTest) -> float:
    return next(n.value for n in at.number_input if n.label.startswith("Exact threshold"))


def test_the_segments_figures_shown_at_once_are_each_segments_own_at_the_threshold():
    """state.segment_figures (drawn while the verdicts are judged) collapses the cells first: its recall,
    precision and flag rate are those of each segment's full curve at the threshold."""
    from metricbridge.curve import curve_from_counts
    from metricbridge.loading import load_predictions
    from metricbridge.segments import segment_counts
    from metricbridge.ui import state

    counts = load_predictions(DEMO, scores=["score_gbm"]).counts("score_gbm", keys=["merchant_segment"],
                                                                   decisions=("rule_flag",))
    for threshold in (0.3, float(np.quantile(counts.scores, 0.9)), 0.95):
        shown = state._segment_figures(counts, "merchant_segment", threshold).set_index("segment")
        for segment, part in segment_counts(counts, "merchant_segment").items():
            expected = curve_from_counts(part).at(threshold)
            row = shown.loc[str(segment)]
            assert row["rows"] == part.n_rows
            for figure in ("recall", "precision", "flag_rate"):
                assert row[figure] == pytest.approx(expected[figure], nan_ok=True), (segment, figure)


def test_single_flight_computes_once_for_threads_that_ask_at_the_same_time():
    import threading
    import time

    from metricbridge.ui import state

    calls = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    key = ("test single flight", time.time())
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(state._once(key, slow))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 4 and len(calls) == 1


def test_the_segments_page_opened_after_the_prefetch_counts_nothing_again(monkeypatch):
    """Home starts the Segments page's pass in the background; the page then uses it: one count in all."""
    from collections import OrderedDict

    from metricbridge.ui import background, state

    counted = []
    original = state._count_segments

    def spy(*args, **kwargs):
        counted.append(args[4])  # the column
        return original(*args, **kwargs)

    monkeypatch.setattr(state, "_count_segments", spy)
    monkeypatch.setattr(state, "_ONCE", OrderedDict())  # nothing counted by the tests before this one
    monkeypatch.setitem(background._jobs, "prefetch", OrderedDict())
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"demo": "monitoring"})
    at.run()
    background.while_busy("prefetch")
    assert len(counted) == 1
    at = _open(at, "segments")
    assert not at.exception
    assert counted == [_selectbox(at, "Split the items by").value]
