"""Chart builders: asserted on their Vega-Lite dicts, since AppTest cannot look inside charts."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from altair.utils.schemapi import SchemaBase, validate_jsonschema
from altair.vegalite.schema import load_schema

from metricbridge import charts, counts_from_arrays, evaluate_counts

DATA = Path(__file__).resolve().parents[1] / "data"


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
    from metricbridge.evaluate import evaluate_file
    from metricbridge.scenario import load_scenario

    return evaluate_file(DATA / "fraud_transactions.parquet", scenario=load_scenario(DATA / "scenarios" /
                                                                                     "demo_fraud.yaml"))


@pytest.fixture(scope="module")
def judged(fraud_report):
    from metricbridge.criteria import load_criteria

    return fraud_report.with_criteria(load_criteria(DATA / "criteria" / "demo_fraud.yaml"), threshold=0.5,
                                      resamples=200)


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


def test_bootstrap_bands_are_shaded_under_the_curves(judged):
    from metricbridge import views

    bands = judged.bands("score_gbm")
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
        assert len(rows) <= charts.MAX_CURVE_POINTS < len(bands)  # thinned, as the curves are
    inside = bands.dropna(subset=["recall", "recall_low"])
    share = ((inside["recall_low"] <= inside["recall"]) & (inside["recall"] <= inside["recall_high"])).mean()
    assert share > 0.95  # the point estimate sits inside its own band


def _progress_frame() -> pd.DataFrame:
    return pd.DataFrame({"run": ["a", "b"], "run_id": ["1", "2"], "created_at": [dt.datetime(2026, 11, 1),
                                                                                 dt.datetime(2026, 11, 8)],
                         "metric": ["recall", "recall"], "comparison": ["at_least"] * 2, "value": [0.6, 0.7],
                         "low": [0.55, 0.65], "high": [0.65, 0.75], "target": [0.8, 0.8], "verdict": ["fail"] * 2,
                         "probability": [0.0, 0.1], "criteria": ["Go v1"] * 2})


def test_progress_chart_draws_values_intervals_and_a_horizontal_target():
    spec = charts.progress_chart(_progress_frame()).to_dict()
    layers = spec["spec"]["layer"]
    target = [layer for layer in layers if layer["mark"].get("strokeDash") == [5, 4]]
    assert len(target) == 1 and "x" not in target[0]["encoding"]  # a line across, not a tick per run
    assert spec["facet"]["field"] == "metric"


# -- templates: written once, valid, fed only what they read ---------------------------------------------------

def _every_chart(judged, threshold: float) -> dict[str, charts.Chart]:
    """Every builder, called as the pages call it, on the fraud demo at ``threshold``."""
    from metricbridge import present, views
    from metricbridge.criteria import load_criteria
    from metricbridge.outcomes import value_parts
    from metricbridge.sensitivity import tornado

    name = "score_gbm"
    report = judged.at(threshold)
    model, outcomes, scenario = report.model(name), report.outcomes[name], report.scenario
    bands = judged.bands(name)
    curves, points = charts.curves_frame(report.models), charts.operating_points(report.models)
    best = float(outcomes.thresholds[outcomes.best_index])
    thinned = views.outcome_curve(report, name)
    grid, places = views.feasibility(report, load_criteria(DATA / "criteria" / "demo_fraud.yaml"), name)
    deployment = views.deployment_pr(report, name)
    icons = present.icon_frame(present.icon_counts(outcomes, threshold), positive=scenario.positive)
    return {
        "roc": charts.roc_chart(curves, points=points, bands=bands),
        "roc for the report": charts.roc_chart(curves, points=points, width=420),
        "pr": charts.pr_chart(curves, points=points, base_rate=model.counts.prevalence, bands=bands),
        "metrics": charts.metrics_chart(curves[curves["model"] == name], threshold=threshold),
        "calibration": charts.calibration_chart(charts.calibration_frame(report.models)),
        "value": charts.outcomes_chart(thinned, threshold=threshold, best=best, capacity=scenario.capacity,
                                       bands=bands, title=f"Value per {scenario.period}"),
        "actions": charts.outcomes_chart(thinned, threshold=threshold, best=None, capacity=None, figure="actions",
                                         title="Reviews per day"),
        "breakdown": charts.breakdown_chart(value_parts(model.curve, scenario, threshold),
                                            currency=scenario.currency),
        "comparison": charts.comparison_chart(views.comparison_frame(report, name, threshold)),
        "break-even": charts.break_even_chart(deployment, views.break_even_bars(report, name)),
        "tornado": charts.tornado_chart(tornado(model.curve, scenario), currency=scenario.currency),
        "feasibility": charts.feasibility_chart(grid, places=places, model=deployment),
        "progress": charts.progress_chart(_progress_frame()),
        "icon array": charts.icon_array_chart(icons, positive=scenario.positive),
    }


def _reads(view: dict, inherited: str | None, used: dict[str | None, set[str]]) -> None:
    """The fields each named source's views read: encodings (tooltips, sorts and facets too)."""
    source = view.get("data", {}).get("name", inherited)
    fields = used.setdefault(source, set())
    for channel in view.get("encoding", {}).values():
        fields.update(item["field"] for item in (channel if isinstance(channel, list) else [channel])
                      if "field" in item)
    if "field" in view.get("facet", {}):
        fields.add(view["facet"]["field"])
    for child in [*view.get("layer", []), *([view["spec"]] if "spec" in view else [])]:
        _reads(child, source, used)


def test_every_chart_is_valid_vega_lite_and_renders_offline(judged):
    schema = load_schema()
    for name, chart in _every_chart(judged, 0.5).items():
        spec = chart.to_dict()
        json.dumps(spec, allow_nan=False)
        validate_jsonschema(spec, schema)  # raises, naming the bad property, when a template lost validity
        svg = charts.to_svg(chart)
        assert svg.startswith("<svg") and "<script" not in svg, name
    assert charts.to_png(chart).startswith(b"\x89PNG")


def test_every_source_holds_only_the_columns_its_layers_read(judged, two_models):
    every = _every_chart(judged, 0.5)
    every["metrics of two models"] = charts.metrics_chart(charts.curves_frame(two_models), threshold=0.4)
    for name, chart in every.items():
        used: dict[str | None, set[str]] = {}
        _reads(chart.to_dict(), None, used)
        used.pop(None, None)  # views with no data of their own and no parent's: none here
        assert set(chart.data) == set(used), name
        for source, frame in chart.data.items():
            assert set(frame.columns) == used[source], (name, source)


def test_a_template_is_written_once_and_a_rerun_builds_no_altair_object(judged, monkeypatch):
    first = _every_chart(judged, 0.5)
    second = _every_chart(judged, 0.55)

    def built(*args, **kwargs):
        raise AssertionError("an Altair object was built for a chart whose template is cached")

    monkeypatch.setattr(SchemaBase, "__init__", built)
    third = _every_chart(judged, 0.6)
    for name, chart in first.items():
        assert second[name].template is chart.template is third[name].template, name
    moved = [name for name in first if first[name].to_dict()["datasets"] != third[name].to_dict()["datasets"]]
    assert {"roc", "pr", "metrics", "value", "breakdown", "comparison", "icon array"} <= set(moved)


def test_other_options_get_their_own_template(two_models):
    curves, points = charts.curves_frame(two_models), charts.operating_points(two_models)
    one = curves[curves["model"] == "strong"]
    roc = charts.roc_chart(curves, points=points)
    assert charts.roc_chart(one, points=points).template is not roc.template  # no legend for one model
    assert roc.to_dict()["layer"][1]["encoding"]["color"]["legend"] is not None
    assert charts.roc_chart(one, points=points).to_dict()["layer"][1]["encoding"]["color"]["legend"] is None
    assert charts.roc_chart(curves, points=points, width=420).to_dict()["width"] == 420
    euros = charts.breakdown_chart(pd.DataFrame({"part": ["caught"], "value": [1.0]}), currency="EUR")
    assert euros.to_dict()["encoding"]["x"]["title"] == "Value per period (EUR)"


def test_the_threshold_is_data_not_part_of_the_template(two_models):
    curves = charts.curves_frame(two_models)
    at = {t: charts.operating_points([replace(m, threshold=t) for m in two_models]) for t in (0.3, 0.6)}
    low, high = (charts.roc_chart(curves, points=points) for points in at.values())
    assert low.template is high.template
    assert low.to_dict()["datasets"]["points"] != high.to_dict()["datasets"]["points"]
    rules = [charts.metrics_chart(curves, threshold=t) for t in at]
    assert rules[0].template is rules[1].template
    assert [chart.to_dict()["datasets"]["threshold"] for chart in rules] == [[{"threshold": 0.3}],
                                                                             [{"threshold": 0.6}]]


def test_the_streamlit_spec_carries_frames_and_leaves_the_template_alone(two_models):
    curves, points = charts.curves_frame(two_models), charts.operating_points(two_models)
    chart = charts.roc_chart(curves, points=points)
    spec = chart.spec()
    assert all(spec["datasets"][name] is frame for name, frame in chart.data.items())  # sent as Arrow
    assert "config" not in spec and "config" in chart.to_dict()  # as st.altair_chart / Altair's to_dict
    spec["layer"][1]["encoding"]["color"]["title"] = " "  # Streamlit patches specs in place
    assert chart.template["layer"][1]["encoding"]["color"]["title"] == "Model"
    assert charts.roc_chart(curves, points=points).spec()["layer"][1]["encoding"]["color"]["title"] == "Model"


def test_long_curves_are_drawn_from_at_most_500_points_that_keep_both_ends():
    rng = np.random.default_rng(11)
    y = (rng.random(30_000) < 0.2).astype(int)
    models = [evaluate_counts(name, counts_from_arrays(y, rng.random(30_000) * 0.5 + 0.5 * y * shift), threshold=0.5)
              for name, shift in (("sharp", 0.8), ("blunt", 0.2))]
    assert all(len(m.curve.thresholds) > 30_000 for m in models)
    curves, points = charts.curves_frame(models), charts.operating_points(models)
    assert list(curves.columns) == ["model", "threshold", "fpr", "recall", "precision", "f1", "flag_rate"]
    roc = charts.roc_chart(curves, points=points).data["curves"]
    pr = charts.pr_chart(curves, points=points).data["curves"]
    for model in models:
        for frame in (roc, pr):
            assert (frame["model"] == model.name).sum() <= charts.MAX_CURVE_POINTS == 500
        part = roc[roc["model"] == model.name]
        first, last = part.iloc[0], part.iloc[-1]
        assert np.isnan(first["threshold"]) and first["fpr"] == first["recall"] == 0  # flag nothing
        assert last["threshold"] == model.curve.thresholds[-1] and last["fpr"] == last["recall"] == 1
    with pytest.raises(ValueError, match=r"no column mcc: make it with curves_frame\(\.\.\., metrics="):
        charts.metrics_chart(curves, threshold=0.5, metrics=("mcc",))
    assert charts.curves_frame(models, metrics=("mcc",))["mcc"].notna().any()


def test_after_warming_up_the_pages_charts_build_no_template(fraud_report):
    """The app builds every template ahead of the first visit (charts.warm_up); the pages' charts on the
    demo then find theirs, whatever the threshold or the scenario's words (only the status quos' names,
    which order the comparison, make one of their own)."""
    from metricbridge.criteria import load_criteria

    charts.warm_up()
    functions = [getattr(charts, name) for name in dir(charts) if name.endswith("_template")
                 and hasattr(getattr(charts, name), "cache_info") and name != "_comparison_template"]
    assert len(functions) == 14  # every cached template but the comparison's
    sizes = {f.__name__: f.cache_info().currsize for f in functions}
    judged = fraud_report.with_criteria(load_criteria(DATA / "criteria" / "demo_fraud.yaml"))
    _every_chart(judged, 0.37)
    new = {f.__name__: f.cache_info().currsize - sizes[f.__name__] for f in functions}
    assert {name: count for name, count in new.items() if count and name != "_roc_template"} == {}
    assert new["_roc_template"] <= 1  # the report's fixed width, built when a report is written


def test_words_fill_the_templates_slots_and_leave_the_template_alone():
    parts = pd.DataFrame({"part": ["caught"], "value": [1.0]})
    euros, none = charts.breakdown_chart(parts, currency="EUR"), charts.breakdown_chart(parts, currency=None)
    assert euros.template is none.template
    assert none.spec()["encoding"]["x"]["title"] == "Value per period"
    assert "{{" in str(euros.template) and "{{" not in str(euros.spec()) and "{{" not in str(euros.to_dict())
    frame = present_icons()
    chart = charts.icon_array_chart(frame, positive="urgent ticket")
    assert chart.to_dict()["encoding"]["color"]["scale"]["domain"][0] == "urgent ticket caught"


def present_icons() -> pd.DataFrame:
    from metricbridge import present

    counts = {"caught": 5, "missed": 5, "false_alarms": 10, "left_alone": 980}
    return present.icon_frame(counts, positive="urgent ticket")
