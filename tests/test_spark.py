"""Spark: ScoreCounts from a Spark DataFrame equal those of numpy and of the local loader on the same rows, and
``evaluate_spark`` gives ``evaluate_file``'s JSON. One local[2] session for the whole file; skipped when no Java
runtime is installed (``.ci/run`` installs one). Run alone with ``pytest -m spark``."""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from metricbridge import InputError, MetricBridgeError, ScoreCounts, counts_from_arrays
from metricbridge.criteria import load_criteria
from metricbridge.evaluate import evaluate_file
from metricbridge.loading import load_predictions
from metricbridge.scenario import load_scenario
from metricbridge.sources.spark import evaluate_spark, local_session, spark_counts

pytestmark = pytest.mark.spark

# Float sums are added in another order by Spark than by numpy: equal to rounding. Per cell a few thousand
# terms of one sign give a relative difference of at most ~1e-13; the tolerance says "the same sums".
RTOL = 1e-12
FLOATS = ("weights", "score_sums", "brier_sums", "log_loss_sums", "weight_squares", "weight_cubes")
SPREADS = ("sums", "squares", "cubes", "crosses")


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime: Spark needs one (apt-get install default-jre-headless, as .ci/run does)")
    session = local_session(cores=2, memory="1g", shuffle_partitions=2, app="metricbridge-tests")
    yield session
    session.stop()


def rows(n: int, seed: int, *, decimals: int | None = None) -> dict[str, np.ndarray]:
    """Labels, scores (with ties when rounded; 0, 1, -0.0 and edges such as 0.1 and 0.5 among them), weights,
    a segment (one missing), a recorded 0/1 decision and an amount."""
    rng = np.random.default_rng(seed)
    s = rng.random(n)
    if decimals is not None:
        s = np.round(s, decimals)
    s[:7] = [0.0, 1.0, 0.5, 0.1, 0.7, 0.3, -0.0]
    segment = rng.choice(np.array(["north", "south", "west"], dtype=object), n)
    segment[7] = None
    return {"y": (rng.random(n) < 0.2 + 0.6 * s).astype(np.int64), "s": s, "w": rng.uniform(0.5, 3.0, n),
            "segment": segment, "rule": (rng.random(n) < 0.3).astype(np.int64), "amount": rng.gamma(2.0, 50.0, n)}


def frame(spark, data: dict[str, np.ndarray]):  # from Arrow: pandas 3 makes pyspark warn
    return spark.createDataFrame(pa.table(data))


def numpy_counts(data, **options) -> ScoreCounts:
    return counts_from_arrays(data["y"], data["s"], sample_weight=data["w"],
                              keys={"segment": data["segment"], "rule": data["rule"].astype(np.int8)},
                              sums={"amount": data["amount"]}, **options)


def spark_options(**options):
    return {"label": "y", "score": "s", "weight": "w", "keys": ["segment"], "decisions": ["rule"],
            "sums": ["amount"]} | options


def assert_same_counts(got: ScoreCounts, expected: ScoreCounts) -> None:
    """Field by field: cells, counts and keys exactly, float sums to RTOL."""
    assert (got.mode, got.bins, got.cells) == (expected.mode, expected.bins, expected.cells)
    assert (got.score_min, got.score_max) == (expected.score_min, expected.score_max)
    for name in ("scores", "labels", "rows"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
    assert list(got.keys) == list(expected.keys)
    for name, values in expected.keys.items():
        assert got.keys[name].tolist() == values.tolist(), name
    for name in FLOATS:
        found, wanted = getattr(got, name), getattr(expected, name)
        assert (found is None) == (wanted is None), name
        if wanted is not None:
            np.testing.assert_allclose(found, wanted, rtol=RTOL, atol=0, err_msg=name)
    for spread in SPREADS:
        found, wanted = getattr(got, spread), getattr(expected, spread)
        assert set(found) == set(wanted), spread
        for name in wanted:
            np.testing.assert_allclose(found[name], wanted[name], rtol=RTOL, atol=0, err_msg=f"{spread}[{name}]")


def assert_same_json(got, expected, where: str = "report") -> None:
    """The same JSON: every key, text and count equal, every float to 1e-9 (sums added in another order)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), where
        for key, value in expected.items():
            assert_same_json(got[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), where
        for index, (found, wanted) in enumerate(zip(got, expected, strict=True)):
            assert_same_json(found, wanted, f"{where}[{index}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert isinstance(got, int | float) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12), (
            f"{where}: {got!r} != {expected!r}")
    else:
        assert got == expected and type(got) is type(expected), f"{where}: {got!r} != {expected!r}"


@pytest.mark.parametrize(("mode", "decimals", "options"), [
    ("exact", 3, {}),
    ("binned", None, {"bins": 40, "edges_at": (0.42,)}),
])
def test_spark_counts_equal_numpys_and_the_local_loaders_with_weights_keys_and_values(spark, tmp_path, mode,
                                                                                       decimals, options):
    data = rows(3000, 1, decimals=decimals)
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table(data), path)
    got = spark_counts(spark.read.parquet(str(path)), **spark_options(mode=mode, **options))
    assert got.mode == mode
    assert_same_counts(got, numpy_counts(data, mode=mode, **options))
    assert_same_counts(got, load_predictions(path, label="y", scores=["s"], weight="w").counts(
        "s", mode=mode, keys=["segment"], sums=["amount"], decisions=["rule"], **options))


def test_auto_bins_many_distinct_scores_as_numpy_does(spark):
    data = rows(120_000, 2)  # more than 100,000 distinct scores; all of them sampled (at most 200,000)
    got = spark_counts(frame(spark, data), label="y", score="s", weight="w")
    expected = counts_from_arrays(data["y"], data["s"], sample_weight=data["w"])
    assert got.mode == "binned" and got.bins == 10_000
    assert_same_counts(got, expected)


def test_unweighted_counts_have_no_weight_moments_and_odd_names_are_names(spark):
    data = rows(500, 4, decimals=2)
    odd = {"y.true": data["y"], "model `a`.score": data["s"], "amount": data["amount"]}  # not a struct's field
    got = spark_counts(frame(spark, odd), label="y.true", score="model `a`.score", sums=["amount"], mode="exact")
    expected = counts_from_arrays(data["y"], data["s"], sums={"amount": data["amount"]}, mode="exact")
    assert got.weight_squares is None and not got.crosses
    assert_same_counts(got, expected)


def test_two_halves_merged_equal_the_whole(spark):
    from pyspark.sql import functions as F

    data = rows(2000, 5, decimals=2) | {"part": np.arange(2000) % 2}
    df = frame(spark, data)
    options = spark_options(mode="exact")
    whole = spark_counts(df, **options)
    merged = spark_counts(df.where(F.col("part") == 0), **options).merge(
        spark_counts(df.where(F.col("part") == 1), **options))
    assert (merged.score_min, merged.score_max) == (whole.score_min, whole.score_max)
    for name in ("scores", "labels", "rows"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    for name in ("weights", "score_sums", "brier_sums", "log_loss_sums"):
        np.testing.assert_allclose(merged.cell(name), whole.cell(name), rtol=RTOL)
    for spread in SPREADS:
        np.testing.assert_allclose(getattr(merged, spread)["amount"], getattr(whole, spread)["amount"], rtol=RTOL)


SCENARIO = """\
name: Review
volume: 1000
value:
  caught: {column: amount, times: 0.9}
  false_alarm: -5
status_quo:
  - {name: Rule, column: rule}
"""
CRITERIA = """\
name: Pilot
version: 1
agreed_by: [Operations]
agreed_on: 2026-11-20
criteria:
  - {metric: recall, at_least: 0.5}
  - {metric: caught, at_least: 1.0, relative_to: Rule}
"""


@pytest.mark.parametrize("options", [
    {},
    {"mode": "binned", "bins": 64, "threshold": 0.42, "criteria": True, "resamples": 200},
])
def test_evaluate_spark_gives_evaluate_files_json(spark, tmp_path, options):
    data = rows(3000, 6, decimals=3) | {"s2": np.random.default_rng(7).random(3000)}
    path = tmp_path / "models.parquet"
    pq.write_table(pa.table(data), path)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    scenario = load_scenario(tmp_path / "scenario.yaml")
    if options.pop("criteria", False):
        (tmp_path / "criteria.yaml").write_text(CRITERIA)
        options["criteria"] = load_criteria(tmp_path / "criteria.yaml")
    common = {"label": "y", "scores": ["s", "s2"], "weight": "w", "scenario": scenario} | options
    expected = evaluate_file(path, **common).to_dict()
    got = evaluate_spark(spark.read.parquet(str(path)), name=path.name, **common).to_dict()
    assert_same_json(got, expected)
    assert got["file"] == "models.parquet" and got["status_quo"][0]["name"] == "Rule"


def test_evaluate_spark_drops_missing_rows_as_the_loader_does(spark, tmp_path):
    data = rows(400, 8)
    data["s"][[10, 20]] = np.nan
    data["w"][[0, 6]] = np.nan  # the rows of the lowest scores (0.0 and -0.0): the range counted shrinks
    path = tmp_path / "missing.parquet"
    pq.write_table(pa.table(data), path)
    expected = evaluate_file(path, label="y", scores=["s"], weight="w", drop_missing=True)
    got = evaluate_spark(spark.read.parquet(str(path)), name=path.name, label="y", scores=["s"], weight="w",
                         drop_missing=True)
    assert got.models[0].counts.score_min == expected.models[0].counts.score_min > 0
    got, expected = got.to_dict(), expected.to_dict()
    assert got["dropped_rows"] == 4 and "dropped 4 rows" in got["notes"][0]
    assert_same_json(got, expected)


def test_exact_mode_refuses_more_distinct_scores_than_the_driver_takes(spark):
    data = rows(1000, 9)
    with pytest.raises(InputError, match=r"'s' holds about [\d,]+ distinct scores, more than the 100 that exact "
                                         r"counting collects to the Spark driver.*Use bins: mode='binned'"):
        spark_counts(frame(spark, data), label="y", score="s", mode="exact", exact_limit=100)


def test_a_named_positive_class_counts_as_numpy_does(spark):
    data = rows(600, 10, decimals=2)
    words = np.where(data["y"] == 1, "Fraud ", "ok")  # compared as the loader compares: case and spaces aside
    df = spark.createDataFrame(pa.table({"outcome": words, "s": data["s"]}))
    with pytest.raises(InputError, match=r"label column 'outcome' holds 'fraud', 'ok'.*--positive"):
        spark_counts(df, label="outcome", score="s")
    got = spark_counts(df, label="outcome", score="s", positive="fraud")
    assert_same_counts(got, counts_from_arrays(data["y"], data["s"]))


@pytest.mark.parametrize(("change", "options", "message"), [
    ({"y": [0, 1, 2]}, {}, r"label column 'y' holds more than two values: '0', '1', '2'"),
    ({"y": [0, None, 1]}, {}, r"label column 'y' is empty \(null or NaN\) in 1 row.*drop_missing=True"),
    ({"s": [0.2, float("nan"), 0.4]}, {}, r"score column 's' is empty \(null or NaN\) in 1 row"),
    ({"s": [0.2, float("inf"), 0.4]}, {}, r"score column 's' holds infinite values in 1 row \(inf\)"),
    ({"w": [1.0, -2.0, 1.0]}, {"weight": "w"}, r"weight column 'w' holds negative values in 1 row \(-2.0\)"),
    ({"w": [0.0, 0.0, 0.0]}, {"weight": "w"}, r"weight column 'w' is 0 in every row"),
    ({"s": ["0.2", "0.3", "0.4"]}, {}, r"score column 's' holds string values, not numbers: cast it"),
    ({}, {"weight": "weight"}, r"has no column 'weight' \(named as the weight column\). Its columns are: y, s"),
])
def test_bad_values_are_refused_naming_the_column_and_a_value(spark, change, options, message):
    table = {"y": [0, 1, 1], "s": [0.2, 0.3, 0.4]} | change
    df = spark.createDataFrame(pa.table(table | ({"w": [1.0, 1.0, 1.0]} if "w" not in table else {})))
    with pytest.raises(InputError, match=message):
        spark_counts(df, label="y", score="s", name="scores", **options)


def test_without_pyspark_using_it_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(MetricBridgeError, match=r"pip install 'metricbridge\[spark\]'"):
        spark_counts(object(), label="y", score="s")  # type: ignore[arg-type]


def test_importing_the_module_needs_no_pyspark():
    import subprocess

    code = ("import sys; sys.modules['pyspark'] = None; import metricbridge.sources.spark; "
            "print('pyspark' in sys.modules and sys.modules['pyspark'] is not None)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parent)
    assert result.stdout.strip() == "False"


def test_the_command_line_with_spark_prints_the_local_json(spark, tmp_path, capsys):
    """evaluate --spark on a folder of Parquet parts: the same figures as the local path on the same rows."""
    import json

    from metricbridge.cli import main

    data = rows(3_000, seed=5)
    folder = tmp_path / "parts"
    folder.mkdir()
    table = pa.table({"label": data["y"], "score": data["s"]})
    pq.write_table(table.slice(0, 1_000), folder / "part-0.parquet")
    pq.write_table(table.slice(1_000), folder / "part-1.parquet")
    args = ["evaluate", str(folder), "--label", "label", "--score", "score", "--threshold", "0.5", "--json"]
    assert main(args) == 0
    local = json.loads(capsys.readouterr().out)["models"]
    assert main([*args, "--spark"]) == 0
    assert json.loads(capsys.readouterr().out)["models"] == local
    assert main(["evaluate", str(folder), "--spark", "--json"]) == 2
    assert "--spark needs the columns named" in capsys.readouterr().err


def test_segments_of_spark_counts_are_judged_as_the_local_files(spark):
    """segment_report on a DataFrame's counts keyed by a column (the README's Python call) gives the local
    path's segments, verdicts and intervals."""
    from metricbridge.judge import decision_columns
    from metricbridge.segments import segment_report

    demo = Path(__file__).resolve().parents[1] / "data"
    scenario = load_scenario(demo / "scenarios" / "demo_fraud.yaml")
    criteria = load_criteria(demo / "criteria" / "demo_fraud.yaml")
    options = {"sums": tuple(scenario.value_columns), "decisions": tuple(decision_columns(scenario))}
    local = load_predictions(demo / "fraud_transactions.parquet", scores=["score_gbm"]).counts(
        "score_gbm", keys=["merchant_segment"], **options)
    remote = spark_counts(spark.read.parquet(str(demo / "fraud_transactions.parquet")), label="is_fraud",
                          score="score_gbm", keys=["merchant_segment"], **options)
    judged = [segment_report(c, "merchant_segment", threshold=0.6, criteria=criteria, scenario=scenario,
                             resamples=200).to_dict() for c in (local, remote)]
    assert judged[0]["worst"] == judged[1]["worst"]
    for a, b in zip(judged[0]["segments"], judged[1]["segments"], strict=True):
        assert (a["segment"], a["status"], a["rows"]) == (b["segment"], b["status"], b["rows"])
        assert a["figures"] == pytest.approx(b["figures"], rel=1e-9, nan_ok=True)
