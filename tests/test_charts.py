"""Chart builders: asserted on their Vega-Lite dicts, since AppTest cannot look inside charts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metricbridge import charts, counts_from_arrays, evaluate_counts


@pytest.fixture
def two_models():
    rng = np.random.default_rng(5)
    y = (rng.random(20_000) < 0.1).astype(int)
    return [evaluate_counts(name, counts_from_arrays(y, np.clip(rng.normal(0.3 + shift * y, 0.2), 0, 1)),
                            threshold=0.4) for name, shift in (("strong", 0.4), ("weak", 0.1))]


def _data(spec: dict) -> list[dict]:
    return [row for rows in spec["datasets"].values() for row in rows]


def test_curves_are_downsampled_but_keep_both_ends(two_models):
    frame = charts.curves_frame(two_models)
    for name, model in (("strong", two_models[0]), ("weak", two_models[1])):
        part = frame[frame["model"] == name]
        assert len(part) <= charts.MAX_CURVE_POINTS < len(model.curve.thresholds)
        assert part["recall"].iloc[0] == 0 and part["recall"].iloc[-1] == 1
        assert np.isnan(part["threshold"].iloc[0])  # flag-nothing has no finite threshold


def test_roc_chart_marks_each_model_at_its_threshold(two_models):
    spec = charts.roc_chart(charts.curves_frame(two_models), points=charts.operating_points(two_models)).to_dict()
    json.dumps(spec, allow_nan=False)  # valid JSON: no inf or NaN left for the browser
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert marks == ["line", "line", "point"]
    points = spec["datasets"][spec["layer"][2]["data"]["name"]]
    for model in two_models:
        (marker,) = [p for p in points if p["model"] == model.name]
        assert marker["recall"] == pytest.approx(model.at_threshold["recall"])
        assert marker["fpr"] == pytest.approx(model.at_threshold["fpr"])
    assert spec["layer"][1]["encoding"]["x"]["field"] == "fpr"


def test_pr_chart_draws_the_base_rate_and_drops_undefined_precision(two_models):
    curves = charts.curves_frame(two_models)
    spec = charts.pr_chart(curves, points=charts.operating_points(two_models), base_rate=0.1).to_dict()
    rule = spec["layer"][0]
    assert rule["mark"]["type"] == "rule" and spec["datasets"][rule["data"]["name"]] == [{"precision": 0.1}]
    line_rows = spec["datasets"][spec["layer"][1]["data"]["name"]]
    assert all(row["precision"] is not None for row in line_rows)


def test_metrics_chart_puts_a_rule_at_the_threshold(two_models):
    curves = charts.curves_frame(two_models[:1])
    spec = charts.metrics_chart(curves, threshold=0.4, metrics=("precision", "recall")).to_dict()
    rule = spec["layer"][1]
    assert spec["datasets"][rule["data"]["name"]] == [{"threshold": 0.4}]
    names = {row["metric"] for row in spec["datasets"][spec["layer"][0]["data"]["name"]]}
    assert names == {"Precision", "Recall"}


def test_calibration_chart_plots_the_reliability_table(two_models):
    table = charts.calibration_frame(two_models)
    spec = charts.calibration_chart(table).to_dict()
    rows = spec["datasets"][spec["layer"][1]["data"]["name"]]
    assert len(rows) == len(table) and {row["model"] for row in rows} == {"strong", "weak"}
    assert sum(row["rows"] for row in rows if row["model"] == "strong") == 20_000


@pytest.fixture(scope="module")
def fraud_report():
    from pathlib import Path

    from metricbridge.evaluate import evaluate_file
    from metricbridge.scenario import load_scenario

    data = Path(__file__).resolve().parents[1] / "data"
    return evaluate_file(data / "fraud_transactions.parquet", scenario=load_scenario(data / "scenarios" /
                                                                                     "demo_fraud.yaml"))


def test_outcomes_chart_shades_thresholds_over_capacity_and_marks_best_and_current(fraud_report):
    from metricbridge import views

    frame = views.outcome_curve(fraud_report, "score_gbm")
    outcomes = fraud_report.outcomes["score_gbm"]
    best = float(outcomes.thresholds[outcomes.best_index])
    spec = charts.outcomes_chart(frame, threshold=0.5, best=best, capacity=600).to_dict()
    json.dumps(spec, allow_nan=False)
    shade, line, rules = spec["layer"]
    band = spec["datasets"][shade["data"]["name"]][0]
    over = frame.loc[~frame["feasible"], "threshold"].dropna()
    assert (band["start"], band["end"]) == (over.min(), over.max())
    assert {(r["which"], r["threshold"]) for r in spec["datasets"][rules["data"]["name"]]} == {
        ("current", 0.5), ("best within capacity", best)}
    assert len(spec["datasets"][line["data"]["name"]]) <= 601


def test_breakdown_adds_up_to_the_value(fraud_report):
    from metricbridge.outcomes import value_parts

    model = fraud_report.model("score_gbm")
    parts = value_parts(model.curve, fraud_report.scenario, 0.5)
    assert parts["value"].sum() == pytest.approx(fraud_report.outcomes["score_gbm"].at(0.5)["value"])
    spec = charts.breakdown_chart(parts, currency="USD").to_dict()
    assert spec["encoding"]["x"]["title"] == "Value per period (USD)"


def test_views_for_the_status_quo_page(fraud_report):
    from metricbridge import views
    from metricbridge.compare import match_caught

    outcomes = fraud_report.outcomes["score_gbm"]
    long = views.comparison_frame(fraud_report, "score_gbm", 0.5)
    assert set(long["who"]) == {"score_gbm", "Amount rule", "Do nothing"}
    caught = long[(long["figure"] == "caught") & (long["who"] == "Amount rule")]["amount"].item()
    assert caught == pytest.approx(fraud_report.status_quo[0].point["caught"])
    pr = views.deployment_pr(fraud_report, "score_gbm")
    assert 100 < len(pr) <= 602
    index = [outcomes.index_at(t) for t in pr["threshold"].dropna()]
    np.testing.assert_allclose(pr["precision"].dropna(), outcomes.caught[index] / outcomes.actions[index],
                               rtol=1e-12)
    matches = views.matches_frame(fraud_report, "score_gbm").set_index("status quo")
    expected = match_caught(outcomes, fraud_report.status_quo[0].point["caught"])
    assert matches.loc["Amount rule", "threshold to catch as many"] == expected.threshold
    bars = views.break_even_bars(fraud_report, "score_gbm")
    spec = charts.break_even_chart(pr, bars).to_dict()
    assert {row["name"] for row in spec["datasets"][spec["layer"][0]["data"]["name"]]} == {"Amount rule",
                                                                                          "Do nothing"}


def test_tornado_chart_draws_one_bar_per_input(fraud_report):
    from metricbridge.sensitivity import tornado

    frame = tornado(fraud_report.model("score_gbm").curve, fraud_report.scenario)
    spec = charts.tornado_chart(frame, currency="USD").to_dict()
    rows = spec["datasets"][spec["layer"][0]["data"]["name"]]
    assert [row["label"] for row in rows] == list(frame["label"])
    assert "capacity" in set(frame["input"])


def test_bootstrap_bands_are_shaded_under_the_curves(fraud_report):
    from metricbridge import views
    from metricbridge.criteria import load_criteria

    data = __import__("pathlib").Path(__file__).resolve().parents[1] / "data"
    judged = fraud_report.with_criteria(load_criteria(data / "criteria" / "demo_fraud.yaml"), threshold=0.5,
                                        resamples=200)
    bands = judged.verdicts["score_gbm"].bands
    curves, points = charts.curves_frame(judged.models), charts.operating_points(judged.models)
    for chart in (charts.roc_chart(curves, points=points, bands=bands),
                  charts.pr_chart(curves, points=points, bands=bands),
                  charts.outcomes_chart(views.outcome_curve(judged, "score_gbm"), threshold=0.5, best=None,
                                        capacity=600, bands=bands)):
        spec = chart.to_dict()
        json.dumps(spec, allow_nan=False)
        areas = [layer for layer in spec["layer"] if layer["mark"]["type"] == "area"]
        assert len(areas) == 1
        rows = spec["datasets"][areas[0]["data"]["name"]]
        low, high = areas[0]["encoding"]["y"]["field"], areas[0]["encoding"]["y2"]["field"]
        assert rows and all(row[low] <= row[high] for row in rows)
    inside = bands.dropna(subset=["recall", "recall_low"])
    share = ((inside["recall_low"] <= inside["recall"]) & (inside["recall"] <= inside["recall_high"])).mean()
    assert share > 0.95  # the point estimate sits inside its own band


def test_progress_chart_draws_values_intervals_and_a_horizontal_target():
    import datetime as dt

    import pandas as pd

    frame = pd.DataFrame({"run": ["a", "b"], "run_id": ["1", "2"], "created_at": [dt.datetime(2026, 11, 1),
                                                                                  dt.datetime(2026, 11, 8)],
                          "metric": ["recall", "recall"], "comparison": ["at_least"] * 2, "value": [0.6, 0.7],
                          "low": [0.55, 0.65], "high": [0.65, 0.75], "target": [0.8, 0.8], "verdict": ["fail"] * 2,
                          "probability": [0.0, 0.1], "criteria": ["Go v1"] * 2})
    spec = charts.progress_chart(frame).to_dict()
    layers = spec["spec"]["layer"]
    target = [layer for layer in layers if layer["mark"].get("strokeDash") == [5, 4]]
    assert len(target) == 1 and "x" not in target[0]["encoding"]  # a line across, not a tick per run
    assert spec["facet"]["field"] == "metric"
