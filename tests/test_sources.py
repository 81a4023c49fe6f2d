"""Sources read in place (metricbridge.sources): the same ScoreCounts from numpy, an upload and DuckDB.

Counts (scores, labels, rows, keys) must be identical. Float sums are compared with rtol 1e-12 (and an absolute
floor of 1e-12 of the largest term's size): DuckDB adds the terms in another order than numpy's bincount (its
threads and batches), and its ln may differ from numpy's by an ulp, so sums agree to about n x 1e-16 of their
size, never bit for bit.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metricbridge import InputError
from metricbridge.counts import ScoreCounts
from metricbridge.curve import curve_from_counts
from metricbridge.evaluate import evaluate_file
from metricbridge.loading import BinLookup, counts_from_arrays, load_predictions
from metricbridge.loading.builders import EDGE_SAMPLE, bin_edges, edges_for
from metricbridge.metrics import average_precision, roc_auc
from metricbridge.scenario import parse_scenario
from metricbridge.sources import local
from metricbridge.sources.grouped import counts_from_groups, edges_from_samples, group_aggregates, groups_of
from metricbridge.sources.local import connect, count_source, evaluate_source, open_source, sql_bins

from .test_loading import BAD, BAD_FILES

FLOAT_FIELDS = ("weights", "score_sums", "brier_sums", "log_loss_sums", "weight_squares", "weight_cubes")
RTOL = 1e-12


def _close(name: str, got: np.ndarray, expected: np.ndarray) -> None:
    floor = 1e-12 * max(float(np.abs(expected).max()) if len(expected) else 0.0, 1.0)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=floor, err_msg=name)


def assert_same_counts(got: ScoreCounts, expected: ScoreCounts) -> None:
    """Every field of two ScoreCounts: counts identical, float sums to rounding (see the module docstring)."""
    assert (got.mode, got.bins, got.cells) == (expected.mode, expected.bins, expected.cells)
    assert got.score_min == expected.score_min or (math.isnan(got.score_min) and math.isnan(expected.score_min))
    assert got.score_max == expected.score_max or (math.isnan(got.score_max) and math.isnan(expected.score_max))
    np.testing.assert_array_equal(got.scores, expected.scores)
    np.testing.assert_array_equal(got.labels, expected.labels)
    np.testing.assert_array_equal(got.rows, expected.rows)
    assert set(got.keys) == set(expected.keys)
    for name in expected.keys:
        assert got.keys[name].tolist() == expected.keys[name].tolist(), name
    for name in FLOAT_FIELDS:
        mine, theirs = getattr(got, name), getattr(expected, name)
        assert (mine is None) == (theirs is None), name
        if theirs is not None:
            _close(name, mine, theirs)
    for field in ("sums", "squares", "cubes", "crosses"):
        mine, theirs = getattr(got, field), getattr(expected, field)
        assert set(mine) == set(theirs), field
        for name in theirs:
            _close(f"{field}[{name}]", mine[name], theirs[name])


def _data(n: int, seed: int, *, decimals: int = 3, weighted: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    columns = {
        "label": (rng.random(n) < 0.3).astype(np.int64),
        "score": np.round(rng.random(n), decimals),
        "segment": rng.choice(np.array(["north", "south", "east"]), n),
        "amount": np.round(rng.normal(50, 20, n), 2),
        "rule": rng.integers(0, 2, n),
    }
    if weighted:
        columns["weight"] = rng.integers(0, 5, n).astype(np.float64)  # rows of weight 0 too
        columns["weight"][0] = 1.0  # but not every row: that is refused
    return columns


def _write(path: Path, columns: dict[str, np.ndarray]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def _parts(folder: Path, columns: dict[str, np.ndarray], parts: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns)
    step = -(-table.num_rows // parts)
    for index in range(parts):
        pq.write_table(table.slice(index * step, step), folder / f"part-{index}.parquet")
    return folder


# -- counts_from_groups: the engines' contract -------------------------------------------------------------------
def _groups_by_duckdb(columns: dict[str, np.ndarray], *, mode: str, edges: np.ndarray | None, weighted: bool,
                      keys: tuple[str, ...], sums: tuple[str, ...]) -> dict[str, np.ndarray]:
    con = duckdb.connect()
    frame = {"y": columns["y"], "s": columns["s"]} | ({"w": columns["w"]} if weighted else {})
    frame |= {f"k{i}": columns[key] for i, key in enumerate(keys)}
    frame |= {f"v{i}": columns[name] for i, name in enumerate(sums)}
    con.register("data", pa.table(frame))
    aggregates = group_aggregates(mode=mode, weighted=weighted, sums=sums)
    cell = "s" if edges is None else "b"
    source = "data" if edges is None else f"({sql_bins(con, 'SELECT * FROM data', edges)})"
    keyed = "".join(f', k{i} AS "key:{key}"' for i, key in enumerate(keys))
    sql = (f"SELECT {cell} AS score, y AS label{keyed}, "
           + ", ".join(f'{sql} AS "{name}"' for name, sql in aggregates.items()) + f" FROM {source} GROUP BY ALL")
    table = con.sql(sql).to_arrow_table()
    groups = {name: table.column(name).to_numpy() for name in table.column_names}
    if edges is not None:
        groups["score"] = edges[groups["score"]]
    return groups


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 400), seed=st.integers(0, 2**31), weighted=st.booleans(), with_keys=st.booleans(),
       with_sums=st.booleans(), mode=st.sampled_from(["exact", "binned"]), bins=st.sampled_from([2, 7, 50]))
def test_groups_of_any_sql_engine_give_the_numpy_builders_counts(n, seed, weighted, with_keys, with_sums, mode,
                                                                 bins):
    rng = np.random.default_rng(seed)
    columns = {"y": (rng.random(n) < 0.4).astype(np.int8), "s": np.round(rng.random(n), int(rng.integers(1, 6))),
               "w": rng.integers(0, 4, n).astype(np.float64), "seg": rng.choice(np.array(["a", "b"]), n),
               "amt": rng.normal(0, 100, n)}
    keys = ("seg",) if with_keys else ()
    sums = ("amt",) if with_sums else ()
    expected = counts_from_arrays(columns["y"], columns["s"], sample_weight=columns["w"] if weighted else None,
                                  mode=mode, bins=bins, keys={k: columns[k] for k in keys},
                                  sums={k: columns[k] for k in sums})
    edges = edges_for(columns["y"], columns["s"], bins) if mode == "binned" else None
    groups = _groups_by_duckdb(columns, mode=mode, edges=edges, weighted=weighted, keys=keys, sums=sums)
    got = counts_from_groups(groups, mode=mode, bins=bins if mode == "binned" else None,
                             score_min=float(columns["s"].min()), score_max=float(columns["s"].max()), keys=keys,
                             sums=sums, weighted=weighted)
    assert_same_counts(got, expected)


def test_groups_of_two_halves_concatenated_are_the_whole():
    columns = {"y": np.arange(1000) % 2, "s": np.round(np.linspace(0, 1, 1000) ** 2, 2), "w": np.ones(1000) * 2}
    whole = counts_from_arrays(columns["y"], columns["s"], sample_weight=columns["w"], mode="exact")
    halves = [_groups_by_duckdb({k: v[part] for k, v in columns.items()}, mode="exact", edges=None, weighted=True,
                                keys=(), sums=()) for part in (slice(0, 400), slice(400, None))]
    joined = {name: np.concatenate([half[name] for half in halves]) for name in halves[0]}
    got = counts_from_groups(joined, mode="exact", bins=None, score_min=0.0, score_max=1.0, weighted=True)
    assert_same_counts(got, whole)


def test_counts_from_groups_refuses_what_an_engine_got_wrong():
    groups = {"score": np.zeros(2), "label": np.zeros(2), "rows": np.ones(2)}
    with pytest.raises(ValueError, match="no column 'score_sums'"):
        counts_from_groups(groups, mode="binned", bins=4, score_min=0, score_max=1, weighted=False)
    with pytest.raises(ValueError, match="differ in length"):
        counts_from_groups(groups | {"rows": np.ones(3)}, mode="exact", bins=None, score_min=0, score_max=1,
                           weighted=False)
    with pytest.raises(ValueError, match="name it 'key:rows'"):
        counts_from_groups(groups, mode="exact", bins=None, score_min=0, score_max=1, keys=["rows"], weighted=False)


def test_the_shared_edge_rule_is_the_numpy_builders():
    rng = np.random.default_rng(4)
    y, s = (rng.random(5000) < 0.1).astype(np.int8), rng.random(5000)
    np.testing.assert_array_equal(edges_from_samples(s, s[y == 1], bins=100, low=s.min(), high=s.max(), at=[0.5]),
                                  edges_for(y, s, 100, at=[0.5]))


# -- the bin of a score in SQL -----------------------------------------------------------------------------------
def _sql_bin_of(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    con = duckdb.connect()
    con.register("scores", pa.table({"s": scores, "i": np.arange(len(scores))}))
    sql = f"SELECT i, b FROM ({sql_bins(con, 'SELECT * FROM scores', edges)}) ORDER BY i"
    return np.asarray(con.sql(sql).fetchnumpy()["b"])


EDGE_CASES = {
    "probabilities": bin_edges(np.random.default_rng(1).random(5000) ** 3, 1000, low=0.0, high=1.0,
                               positives=np.random.default_rng(2).random(300)),
    "margins": bin_edges(np.random.default_rng(3).normal(0, 5, 5000), 500, low=-30.0, high=25.0),
    "clustered": np.unique(np.r_[0.0, np.linspace(0.5, 0.5 + 1e-9, 200), 0.7, 1.0]),
    "few": np.array([0.0, 0.4]),
    "one": np.array([0.25]),
    "overflowing range": np.array([-1.7e308, -1e308, 0.0, 1.7e308]),  # edges[-1] - edges[1] is inf: no grid
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_the_sql_bin_is_bin_lookups_at_every_edge_and_beside_it(case):
    edges = EDGE_CASES[case]
    scores = np.unique(np.r_[edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf), 0.0, 1.0,
                             -0.0, np.random.default_rng(5).uniform(edges.min() / 2, edges.max() / 2, 2000)])
    np.testing.assert_array_equal(_sql_bin_of(scores, edges), BinLookup(edges)(scores))


# -- the DuckDB source against the upload path --------------------------------------------------------------------
def _counts_all_ways(path: Path, columns: dict[str, np.ndarray], *, mode: str, bins: int, weighted: bool,
                     keys=(), sums=(), decisions=(), source: str | Path | None = None, binning: str = "stream"):
    weight = "weight" if weighted else None
    upload = load_predictions(path, label="label", scores=["score"], weight=weight)
    from_upload = upload.counts("score", mode=mode, bins=bins, keys=keys, sums=sums, decisions=decisions)
    opened = open_source(source or path, label="label", scores=["score"], weight=weight, binning=binning)
    from_source = opened.counts("score", mode=mode, bins=bins, keys=keys, sums=sums, decisions=decisions)
    from_arrays = counts_from_arrays(
        columns["label"], columns["score"], sample_weight=columns["weight"] if weighted else None, mode=mode,
        bins=bins, keys={k: columns[k] for k in (*keys, *decisions)}, sums={k: columns[k] for k in sums})
    return from_arrays, from_upload, from_source


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 300), seed=st.integers(0, 2**31), decimals=st.sampled_from([1, 2, 8]),
       weighted=st.booleans(), with_keys=st.booleans(), with_sums=st.booleans(),
       mode=st.sampled_from(["exact", "binned"]), binning=st.sampled_from(["stream", "sql"]))
def test_numpy_the_upload_and_duckdb_count_alike(n, seed, decimals, weighted, with_keys, with_sums, mode, binning):
    columns = _data(n, seed, decimals=decimals, weighted=weighted)
    folder = Path(tempfile.mkdtemp(prefix="metricbridge-test-"))
    try:
        path = _write(folder / "whole.parquet", columns)
        source = _parts(folder / "parts", columns, 3) if n >= 3 else path
        keys, sums = (("segment",) if with_keys else ()), (("amount",) if with_sums else ())
        arrays, upload, source_counts = _counts_all_ways(path, columns, mode=mode, bins=20, weighted=weighted,
                                                         keys=keys, sums=sums, source=source, binning=binning)
        assert_same_counts(upload, arrays)
        assert_same_counts(source_counts, upload)
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("mode", ["exact", "binned"])
@pytest.mark.parametrize("binning", ["stream", "sql"])
def test_weights_keys_value_columns_and_decisions_count_alike(tmp_path, mode, binning):
    columns = _data(20_000, 7)
    path = _write(tmp_path / "whole.parquet", columns)
    counted = _counts_all_ways(path, columns, mode=mode, bins=1000, weighted=True, keys=("segment",),
                               sums=("amount",), decisions=("rule",), source=_parts(tmp_path / "parts", columns, 4),
                               binning=binning)
    arrays, upload, source = counted
    assert_same_counts(upload, arrays)
    assert_same_counts(source, upload)
    assert source.crosses and source.weight_squares is not None and set(source.keys) == {"segment", "rule"}


@pytest.mark.parametrize("weighted", [False, True])
def test_a_stream_of_many_batches_counts_as_one(tmp_path, monkeypatch, weighted):
    columns = _data(5000, 12, weighted=weighted)
    path = _write(tmp_path / "p.parquet", columns)
    weight = "weight" if weighted else None
    expected = load_predictions(path, label="label", scores=["score"], weight=weight).counts(
        "score", mode="binned", bins=200, keys=["segment"], sums=["amount"])
    monkeypatch.setattr(local, "_STREAM_BATCH", 300)  # 17 batches, their cells added up every 4
    monkeypatch.setattr(local, "_REDUCE_EVERY", 4)
    monkeypatch.setattr(local, "_COUNTING_THREADS", 2)
    got = open_source(path, label="label", scores=["score"], weight=weight).counts(
        "score", mode="binned", bins=200, keys=["segment"], sums=["amount"])
    assert_same_counts(got, expected)


def _sources(tmp_path: Path, columns: dict[str, np.ndarray]) -> dict[str, str]:
    """The same rows as every kind of source: a file, a folder, a hive-partitioned folder, a glob, a CSV file and a
    DuckDB table."""
    _write(tmp_path / "whole.parquet", columns)
    _parts(tmp_path / "folder", columns, 3)
    pq.write_to_dataset(pa.table(columns), tmp_path / "hive", partition_cols=["segment"])
    (tmp_path / "folder" / "_SUCCESS").write_text("")  # a writer's marker, not a part
    import pandas as pd

    pd.DataFrame(columns).to_csv(tmp_path / "whole.csv", index=False)
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    con.register("frame", pa.table(columns))
    con.execute("CREATE TABLE predictions AS SELECT * FROM frame")
    con.execute("CREATE TABLE other AS SELECT 1 AS x")
    con.close()
    return {"parquet file": str(tmp_path / "whole.parquet"), "folder": str(tmp_path / "folder"),
            "hive folder": str(tmp_path / "hive"), "glob": str(tmp_path / "folder" / "part-*.parquet"),
            "csv": str(tmp_path / "whole.csv"), "duckdb table": f"{tmp_path / 'store.duckdb'}:predictions"}


@pytest.mark.parametrize("mode", ["exact", "binned"])
def test_every_kind_of_source_counts_as_the_upload(tmp_path, mode):
    columns = _data(3000, 11)
    upload = load_predictions(_write(tmp_path / "upload.parquet", columns), label="label", scores=["score"],
                              weight="weight")
    expected = upload.counts("score", mode=mode, bins=100, keys=["segment"], sums=["amount"])
    for kind, source in _sources(tmp_path, columns).items():
        opened = open_source(source, label="label", scores=["score"], weight="weight")
        assert opened.rows == 3000, kind
        got = opened.counts("score", mode=mode, bins=100, keys=["segment"], sums=["amount"])
        if kind == "hive folder":  # the partition column comes back as text from the folder names
            assert got.keys["segment"].tolist() == expected.keys["segment"].tolist()
        assert_same_counts(got, expected)


def test_a_hive_partition_is_a_column(tmp_path):
    columns = _data(500, 2)
    sources = _sources(tmp_path, columns)
    opened = open_source(sources["hive folder"], label="label", scores=["score"])
    assert "segment" in opened.table.columns and "hive partitions" in " ".join(opened.notes)
    assert sorted(opened.counts("score", keys=["segment"]).keys["segment"].tolist())[0] == "east"


def test_two_halves_merged_are_the_whole(tmp_path):
    columns = _data(4000, 5)
    folder = _parts(tmp_path / "parts", columns, 2)
    options = {"label": "label", "scores": ["score"], "weight": "weight"}
    halves = [open_source(folder / f"part-{i}.parquet", **options).counts(
        "score", mode="exact", keys=["segment"], sums=["amount"]) for i in range(2)]
    whole = open_source(folder, **options).counts("score", mode="exact", keys=["segment"], sums=["amount"])
    # as an engine merges parts: their groups concatenated
    parts = [groups_of(half) for half in halves]
    joined = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    assert_same_counts(counts_from_groups(joined, mode="exact", bins=None, score_min=whole.score_min,
                                          score_max=whole.score_max, keys=["segment"], sums=["amount"],
                                          weighted=True), whole)
    # ScoreCounts.merge (which stores the raw-score sums that exact counts derive)
    merged, expected = halves[0].merge(halves[1]).to_frame(), whole.to_frame()
    assert list(merged.columns) == list(expected.columns)
    for column in expected.columns:
        if expected[column].dtype.kind in "fiu":
            _close(column, merged[column].to_numpy(), expected[column].to_numpy())
        else:
            assert merged[column].tolist() == expected[column].tolist()


def test_more_rows_than_the_edge_sample_bin_alike_run_after_run(tmp_path):
    rng = np.random.default_rng(8)
    n = EDGE_SAMPLE + 50_000
    columns = {"label": (rng.random(n) < 0.05).astype(np.int8), "score": rng.random(n)}
    path = _write(tmp_path / "big.parquet", columns)
    first, second = (open_source(path, label="label", scores=["score"]).counts("score") for _ in range(2))
    assert first.mode == "binned" and first.n_rows == n
    np.testing.assert_array_equal(first.scores, second.scores)
    np.testing.assert_array_equal(first.rows, second.rows)
    exact = counts_from_arrays(columns["label"], columns["score"], mode="exact")
    binned_auc, exact_auc = (roc_auc(curve_from_counts(c)) or 0.0 for c in (first, exact))
    binned_ap, exact_ap = (average_precision(curve_from_counts(c)) or 0.0 for c in (first, exact))
    assert abs(binned_auc - exact_auc) < 1e-4 and abs(binned_ap - exact_ap) < 1e-3 * exact_ap


def test_the_report_and_its_json_are_the_uploads(tmp_path):
    columns = _data(5000, 3)
    sources = _sources(tmp_path, columns)
    scenario = parse_scenario({"volume": 10000, "value": {"caught": {"column": "amount"}, "false_alarm": -5},
                               "status_quo": [{"name": "Rule", "column": "rule"}]})
    expected = evaluate_file(sources["parquet file"], label="label", scores=["score"], weight="weight",
                             scenario=scenario, preview_rows=5).to_dict()
    got = evaluate_source(sources["folder"], label="label", scores=["score"], weight="weight", scenario=scenario,
                          preview_rows=5).to_dict()
    assert (got.pop("file"), expected.pop("file")) == ("folder", "whole.parquet")
    got.pop("notes"), expected.pop("notes")  # which file was read, and how
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_counting_reports_its_progress(tmp_path):
    path = _write(tmp_path / "p.parquet", _data(2000, 1))
    heard: list[tuple[float, str]] = []
    count_source(path, score="score", label="label", mode="binned", bins=50,
                 progress=lambda fraction, what: heard.append((fraction, what)))
    fractions = [fraction for fraction, _ in heard]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {what for _, what in heard} >= {"reading p.parquet", "checking p.parquet", "counting score"}


def test_the_connection_is_set_from_the_machine():
    con = connect(memory_limit=512 << 20)
    settings_now = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', "
                                    "'preserve_insertion_order', 'temp_directory')").fetchall())
    assert settings_now["memory_limit"] in ("512.0 MiB", "512 MiB")
    assert settings_now["preserve_insertion_order"] == "false"
    assert Path(settings_now["temp_directory"]).name.startswith("metricbridge-duckdb-")


# -- bad input ------------------------------------------------------------------------------------------------------
def test_a_nan_score_in_the_third_part_names_that_part_and_row(tmp_path):
    folder = tmp_path / "scores"
    columns = _data(40, 1)
    columns["score"][28] = np.nan  # part-2 holds rows 28..41: its 1st data row, spreadsheet row 2
    _parts(folder, columns, 3)
    with pytest.raises(InputError, match=r"'scores': score column 'score' is empty in 1 row \(row 2 of "
                                         r"part-2\.parquet: 'nan'\)"):
        open_source(folder, label="label", scores=["score"])
    assert open_source(folder, label="label", scores=["score"], drop_missing=True).dropped_rows == 1


@pytest.mark.parametrize(("change", "fragments"), [
    (lambda c: c["score"].__setitem__(5, np.inf), ["score column 'score'", "infinite", "row 7: 'inf'"]),
    (lambda c: c["weight"].__setitem__(3, -1.0), ["weight column 'weight'", "negative", "row 5: '-1.0'"]),
    (lambda c: c.__setitem__("label", np.where(np.arange(len(c["label"])) == 4, 2, c["label"])),
     ["label column 'label'", "more than two values", "'2' (row 6)"]),
])
def test_bad_values_are_refused_with_the_uploads_message(tmp_path, change, fragments):
    columns = _data(30, 9)
    change(columns)
    path = _write(tmp_path / "bad.parquet", columns)
    with pytest.raises(InputError) as upload:
        load_predictions(path, label="label", scores=["score"], weight="weight")
    with pytest.raises(InputError) as source:
        open_source(path, label="label", scores=["score"], weight="weight")
    assert str(source.value) == str(upload.value)
    for fragment in fragments:
        assert fragment in str(source.value)


_IN_PLACE_ONLY_UTF8 = ("latin1", "windows1252", "utf16", "utf_16", "utf-16", "mixed_newlines", "cr_only")


@pytest.mark.parametrize(("file", "options", "fragments"), [case for case in BAD_FILES if case[0].endswith(".csv")])
def test_a_bad_csv_file_read_in_place_is_refused_as_an_upload_is(file, options, fragments):
    """Every bad CSV of the upload tests, evaluated in place: the upload's message, word for word."""
    with pytest.raises(InputError) as source:
        evaluate_source(BAD / file, **options)
    message = str(source.value)
    if any(part in file for part in _IN_PLACE_ONLY_UTF8) and "not UTF-8" in message:
        assert "convert it" in message  # an upload is transcoded; a file read in place must be UTF-8
        return
    with pytest.raises(InputError) as upload:
        evaluate_file(BAD / file, **options)
    assert message == str(upload.value)


@pytest.mark.parametrize(("make", "fragments"), [
    (lambda d: d / "nowhere", ["nowhere'", "no such file or folder"]),
    (lambda d: (d / "empty").mkdir() or d / "empty", ["'empty'", "folder without Parquet files"]),
    (lambda d: str(d / "nothing-*.parquet"), ["no file matches"]),
    (lambda d: str(d / "*"), ["matches files that are not Parquet", "give a CSV file on its own"]),
    (lambda d: d / "store.duckdb", ["name the table to read", "store.duckdb:TABLE", "other, predictions"]),
    (lambda d: f"{d / 'store.duckdb'}:missing", ["has no table 'missing'", "other, predictions"]),
])
def test_a_source_that_is_not_there_is_refused_by_name(tmp_path, make, fragments):
    _sources(tmp_path, _data(20, 1))
    with pytest.raises(InputError) as refused:
        open_source(make(tmp_path), label="label", scores=["score"])
    for fragment in fragments:
        assert fragment in str(refused.value)


def test_exact_counting_beyond_memory_is_refused_with_a_pointer_to_bins(tmp_path):
    path = _write(tmp_path / "many.parquet", _data(5000, 4, decimals=8))
    opened = open_source(path, label="label", scores=["score"], max_exact_cells=1000)
    with pytest.raises(InputError, match=r"would count about [\d,]+ exact cells.*Count in bins instead.*--bins N"):
        opened.counts("score", mode="exact")
    assert opened.counts("score", mode="auto").mode == "binned"  # auto: the cells would not fit, so bins
    assert opened.counts("score", mode="binned", bins=100).mode == "binned"


def test_what_is_read_in_place_and_how_a_source_is_told_apart(tmp_path):
    import time

    import pandas as pd

    from metricbridge import cli
    from metricbridge.sources.local import IN_PLACE_BYTES, inspect_source, reads_in_place, source_digest

    assert cli.IN_PLACE_BYTES == IN_PLACE_BYTES
    folder = tmp_path / "parts"
    folder.mkdir()
    frame = pd.DataFrame({"label": [0, 1, 0, 1], "score": [0.1, 0.8, 0.3, 0.6]})
    frame.to_parquet(folder / "part-0.parquet")
    small = tmp_path / "small.parquet"
    frame.to_parquet(small)
    assert reads_in_place(folder) and reads_in_place(str(folder / "*.parquet")) and not reads_in_place(small)
    before = source_digest(folder)
    assert source_digest(folder) == before
    time.sleep(0.01)
    frame.to_parquet(folder / "part-1.parquet")  # a part added: another source
    assert source_digest(folder) != before
    seen = inspect_source(folder)
    assert seen.label == "label" and seen.scores == ("score",)
