"""Loading: every common CSV dialect and Parquet read right; every bad file refused with a useful message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from metricbridge import InputError
from metricbridge.evaluate import evaluate_file
from metricbridge.loading import load_predictions, read_table

BAD = Path(__file__).parent / "data" / "bad"
GOOD = Path(__file__).parent / "data" / "good"

# file, options, fragments the message must hold (the file, the column, the rows and values where they apply)
BAD_FILES = [
    ("empty.csv", {}, ["'empty.csv'", "empty"]),
    ("whitespace_only.csv", {}, ["'whitespace_only.csv'", "empty"]),
    ("header_only.csv", {}, ["'header_only.csv'", "no data rows", "label, score"]),
    ("binary_blob.csv", {}, ["'binary_blob.csv'", "not a table", "binary"]),
    ("excel_workbook.csv", {}, ["'excel_workbook.csv'", "Excel", "save the sheet as CSV"]),
    ("pdf_document.csv", {}, ["'pdf_document.csv'", "PDF"]),
    ("truncated.parquet", {}, ["'truncated.parquet'", "not a readable Parquet file"]),
    ("missing_label_column.csv", {"label": "is_fraud"}, ["'is_fraud'", "--label", "outcome, score"]),
    ("missing_score_column.csv", {"scores": ["prob"]}, ["'prob'", "--score", "label, score"]),
    ("text_in_score.csv", {}, ["column 'score'", "text", "row 4: 'high'", "row 6: 'n/a?'"]),
    ("latin1_text_in_score.csv", {}, ["column 'score'", "row 3: 'trés'"]),
    ("missing_scores.csv", {}, ["column 'score'", "2 rows", "row 3", "row 6", "--drop-missing"]),
    ("all_missing_scores.csv", {}, ["column 'score'", "row 2", "row 3"]),
    ("missing_labels.csv", {}, ["label column 'label'", "row 3", "--drop-missing"]),
    ("three_label_values.csv", {}, ["column 'label'", "more than two values", "'2' (row 4, 6)", "'0' (row 2, 5)"]),
    ("scores_outside_unit.csv", {}, ["column 'margin'", "not probabilities", "--threshold", "from -3 to 2.5"]),
    ("duplicate_columns.csv", {}, ["'score' appears twice", "columns 2 and 3"]),
    ("duplicate_columns_semicolon.csv", {}, ["'y' appears twice", "columns 1 and 3"]),
    ("unnamed_labels.csv", {}, ["column 'outcome'", "'churned', 'stayed'", "--positive"]),
    ("wrong_positive.csv", {"positive": "fraud"}, ["'fraud' does not occur", "column 'label'", "'no', 'yes'"]),
    ("no_header.csv", {}, ["first row holds numbers", "header"]),
    ("negative_weights.csv", {"weight": "w"}, ["weight column 'w'", "negative", "row 3: '-2'"]),
    ("text_in_weight.csv", {"weight": "w"}, ["weight column 'w'", "row 3: 'two'"]),
    ("infinite_score.csv", {}, ["column 'score'", "infinite", "row 3"]),
    ("ragged_rows.csv", {}, ["row 34 has 4 cells", "'0,0.2,extra,cells'", "header names 2 columns"]),
    ("no_numeric_columns.csv", {}, ["no numeric column", "label, comment"]),
    ("ambiguous_scores.csv", {}, ["amount, hour", "--score"]),
    ("ambiguous_labels.csv", {}, ["could be the label: a, b", "--label"]),
]


def test_the_bad_file_corpus_is_covered():
    assert len(BAD_FILES) >= 20
    tables = {p.name for p in BAD.iterdir() if p.suffix != ".yaml"}  # YAML files: tests/test_yaml_robustness.py
    assert {name for name, _, _ in BAD_FILES} == tables


@pytest.mark.parametrize("name, options, fragments", BAD_FILES, ids=[row[0] for row in BAD_FILES])
def test_bad_files_get_a_message_that_says_what_and_where(name, options, fragments):
    with pytest.raises(InputError) as raised:
        evaluate_file(BAD / name, **options)
    message = str(raised.value)
    assert message.startswith(f"'{name}'")
    for fragment in fragments:
        assert fragment in message


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_common_delimiters_and_line_ends_read_the_same(tmp_path, delimiter, newline):
    rows = [f"label{delimiter}score{delimiter}note"] + [
        f"{y}{delimiter}{s}{delimiter}\"a{delimiter} quoted, \"\"cell\"\"\"" for y, s in
        [(1, 0.9), (0, 0.2), (1, 0.6), (0, 0.7), (0, 0.1)]]
    path = _write(tmp_path, "p.csv", "\n".join(rows) + "\n", newline=newline)
    report = evaluate_file(path)
    assert report.model("score").to_dict()["roc_auc"] == pytest.approx(5 / 6)
    assert report.data.preview["note"].iloc[0] == f'a{delimiter} quoted, "cell"'


@pytest.mark.parametrize("encoding, bom", [("utf-8", b"\xef\xbb\xbf"), ("utf-8", b""), ("latin-1", b"")])
def test_encodings_and_the_excel_bom_leave_names_and_values_intact(tmp_path, encoding, bom):
    text = "étiquette,score,région\n1,0.9,Île-de-France\n0,0.2,Provence\n1,0.4,Bretagne\n"
    path = tmp_path / "p.csv"
    path.write_bytes(bom + text.encode(encoding))
    predictions = load_predictions(path, label="étiquette")
    assert predictions.table.columns == ("étiquette", "score", "région")
    assert list(predictions.preview()["région"]) == ["Île-de-France", "Provence", "Bretagne"]


def test_latin1_bytes_past_the_sniffed_sample_are_read(tmp_path):
    lines = ["label,score,city"] + [f"{i % 2},{(i % 97) / 100},Paris" for i in range(70_000)] + ["1,0.5,Orléans"]
    path = tmp_path / "late.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    predictions = load_predictions(path)
    assert predictions.rows == 70_001


def test_column_names_are_data_not_sql(tmp_path):
    evil = 'x"; DROP TABLE t; --'
    frame = pd.DataFrame({"label": [0, 1, 1, 0], evil: [0.1, 0.8, 0.3, 0.35]})
    frame.to_csv(tmp_path / "evil.csv", index=False)
    report = evaluate_file(tmp_path / "evil.csv", scores=[evil])
    assert report.models[0].name == evil
    assert report.models[0].to_dict()["roc_auc"] == pytest.approx(0.75)


def test_parquet_and_csv_give_the_same_figures(tmp_path):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"is_fraud": rng.integers(0, 2, 500), "score": rng.random(500).round(3),
                          "segment": rng.choice(["a", "b"], 500)})
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    from_csv = evaluate_file(tmp_path / "p.csv").to_dict()["models"]
    from_parquet = evaluate_file(tmp_path / "p.parquet").to_dict()["models"]
    assert from_csv == from_parquet
    assert from_csv[0]["roc_auc"] == pytest.approx(roc_auc_score(frame["is_fraud"], frame["score"]), abs=1e-12)


def test_guesses_are_explained_and_extras_kept():
    predictions = load_predictions(GOOD / "semicolon_yes_no.csv")
    assert predictions.label == "outcome" and predictions.positive == "yes"
    assert predictions.scores == ("model_a_score", "model_b_score")
    assert any("reads like a label" in note for note in predictions.notes)
    assert any("names that read like model scores" in note for note in predictions.notes)
    assert set(predictions.extras) == {"case_id", "rule_flag", "region", "weight"}


def test_a_recorded_decision_column_is_not_taken_for_a_score(tmp_path):
    frame = pd.DataFrame({"label": [0, 1, 1, 0], "rule_flag": [0, 1, 0, 0], "model_score": [.1, .9, .3, .4]})
    frame.to_csv(tmp_path / "p.csv", index=False)
    assert load_predictions(tmp_path / "p.csv").scores == ("model_score",)


@pytest.mark.parametrize("values, positive", [
    (["0", "1"], "1"), (["False", "TRUE"], "true"), (["no", "Yes"], "yes"), (["N", "Y"], "y"),
    (["1.0", "0.0"], "1.0"),
])
def test_known_label_spellings_need_no_help(tmp_path, values, positive):
    labels = [values[i % 2] for i in range(6)]
    pd.DataFrame({"target": labels, "score": np.linspace(0, 1, 6)}).to_csv(tmp_path / "p.csv", index=False)
    predictions = load_predictions(tmp_path / "p.csv")
    assert predictions.positive == positive
    assert predictions.profile()["positive_rows"] == 3


def test_two_strings_with_the_positive_named(tmp_path):
    path = _write(tmp_path, "p.csv", "outcome,score\nchurned,0.9\nstayed,0.1\nchurned,0.3\nstayed,0.5\n")
    model = evaluate_file(path, positive="Churned").models[0]
    assert model.counts.positives == 2 and model.to_dict()["roc_auc"] == pytest.approx(0.75)


def test_drop_missing_drops_and_says_how_many():
    report = evaluate_file(BAD / "missing_scores.csv", drop_missing=True)
    assert report.data.dropped_rows == 2 and report.models[0].counts.n_rows == 3
    assert any("dropped 2 rows" in note for note in report.notes)


def test_weights_make_n_and_positives_weighted_sums():
    report = evaluate_file(GOOD / "semicolon_yes_no.csv", weight="weight", scores=["model_a_score"])
    frame = pd.read_csv(GOOD / "semicolon_yes_no.csv", sep=";")
    model = report.models[0].to_dict()
    assert model["rows"] == len(frame)
    assert model["n"] == pytest.approx(frame["weight"].sum())
    assert model["positives"] == pytest.approx(frame.loc[frame["outcome"] == "yes", "weight"].sum())
    assert model["roc_auc"] == pytest.approx(
        roc_auc_score(frame["outcome"] == "yes", frame["model_a_score"], sample_weight=frame["weight"]), abs=1e-12)


def test_a_single_class_is_a_warning_not_an_error(tmp_path):
    path = _write(tmp_path, "p.csv", "label,score\n0,0.1\n0,0.7\n0,0.4\n")
    report = evaluate_file(path)
    assert report.models[0].to_dict()["roc_auc"] is None
    assert len(report.warnings) == 1 and "every row of label column 'label' is negative" in report.warnings[0]


def test_hard_decisions_are_said_to_give_one_operating_point(tmp_path):
    path = _write(tmp_path, "p.csv", "label,model_pred\n0,0\n1,1\n1,0\n0,1\n1,1\n")
    report = evaluate_file(path)
    assert report.models[0].counts.is_hard_decision
    assert any("single operating point" in note for note in report.notes)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_a_text_column_sniffed_past_the_sample_is_still_read(tmp_path):
    lines = ["label,score,comment"] + [f"{i % 2},0.{i % 9},{i}" for i in range(30_000)] + ["1,0.5,late text"]
    path = _write(tmp_path, "p.csv", "\n".join(lines) + "\n")
    predictions = load_predictions(path)
    assert predictions.rows == 30_001 and predictions.table.types["comment"] == "VARCHAR"


@pytest.mark.parametrize("values, fragments", [
    ([0.2, np.nan, 0.7, np.nan], ["score column 'score' is empty in 2 rows", "row 3", "row 5"]),
    ([0.2, np.inf, 0.7, -np.inf], ["score column 'score' holds infinite values", "row 3: 'inf'", "row 5: '-inf'"]),
])
def test_nan_and_infinite_scores_in_parquet_are_found(tmp_path, values, fragments):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"label": [0, 1, 0, 1], "score": values}).to_parquet(path)
    with pytest.raises(InputError) as raised:
        load_predictions(path)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_negative_weights_in_parquet_are_found(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"label": [0, 1, 0, 1], "score": [0.1, 0.8, 0.3, 0.6], "w": [1.0, -2.0, 1.0, 0.5]}).to_parquet(path)
    with pytest.raises(InputError, match=r"weight column 'w' holds negative values \(row 3: '-2.0'\)"):
        load_predictions(path, weight="w")


@pytest.fixture(scope="module")
def large_frame():
    """More rows than profiling reads in full: which columns hold a handful of values is first sampled."""
    rng = np.random.default_rng(4)
    n = 600_000
    return pd.DataFrame({"label": rng.integers(0, 2, n), "score": rng.random(n), "segment": rng.choice(["a", "b"], n)})


def test_a_rare_third_label_value_the_sample_misses_is_still_found(tmp_path, large_frame):
    frame = large_frame.copy()
    frame.loc[[123_456, 500_000], "label"] = 7
    path = tmp_path / "rare.parquet"
    frame.to_parquet(path)
    with pytest.raises(InputError, match=r"label column 'label' holds more than two values: .*'7' \(row 123458, "
                                         r"500002\)"):
        load_predictions(path, label="label", scores=["score"])


def test_a_large_file_is_profiled_the_same_as_counted_in_full(tmp_path, large_frame):
    path = tmp_path / "large.parquet"
    large_frame.to_parquet(path)
    predictions = load_predictions(path)
    assert predictions.label == "label" and predictions.scores == ("score",)
    assert predictions.profile()["positive_rows"] == int(large_frame["label"].sum())
    counts = predictions.counts("score")
    assert counts.n_rows == len(large_frame) and counts.positives == large_frame["label"].sum()


def test_labels_spelled_differently_in_rows_count_as_one_class(tmp_path):
    path = _write(tmp_path, "p.csv", "outcome,score\n yes,0.9\nYes,0.4\nno,0.3\nNO ,0.2\nyes,0.6\n")
    predictions = load_predictions(path)
    assert predictions.positive == "yes" and predictions.profile()["positive_rows"] == 3
    counts = predictions.counts("score")
    assert counts.positives == 3 and counts.negatives == 2


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_loading_and_counting_report_progress(tmp_path, suffix):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"label": rng.integers(0, 2, 3_000), "score_gbm": rng.random(3_000)})
    path = tmp_path / f"big.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    heard: list[tuple[float, str]] = []
    predictions = load_predictions(path, progress=lambda fraction, what: heard.append((fraction, what)))
    predictions.counts("score_gbm", progress=lambda fraction, what: heard.append((fraction, what)))
    phrases = list(dict.fromkeys(what for _, what in heard))
    assert phrases == [f"reading big.{suffix}", f"checking big.{suffix}", "reading score_gbm", "counting score_gbm"]
    loading = [fraction for fraction, what in heard if "score_gbm" not in what]
    assert loading[0] == 0.0 and loading[-1] == 1.0 and loading == sorted(loading)


def test_numbers_with_a_decimal_comma_are_named_as_such(tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text("label;score\n1;0,5\n0;0,2\n")
    with pytest.raises(InputError, match=r"row 2: '0,5'.*decimal comma.*0\.5, not 0,5"):
        load_predictions(path)


@pytest.mark.parametrize(("content", "expected"), [
    (b"ab\r\ncdef\rg\nhijkl", (4, 5)),  # CR LF, CR alone and LF each end a line; the last has no break
    (b"abc\r\r\nx\n", (1, 3)),
    (b"", None),
])
def test_the_longest_line_counts_every_kind_of_line_break(tmp_path, content, expected):
    from metricbridge.loading.reading import _longest_line

    path = tmp_path / "lines.csv"
    path.write_bytes(content)
    assert _longest_line(path) == expected


def test_binned_counts_with_decision_keys_are_those_of_the_file_in_its_order(tmp_path):
    """Above the edge sample's size the bins come from a sample drawn by row position: the rows must reach it
    in the file's order (a long IN list is planned as a join that reorders them), or the same file gives other
    bins from one load to the next."""
    from metricbridge.loading.builders import EDGE_SAMPLE, counts_from_arrays

    rng = np.random.default_rng(5)
    n = EDGE_SAMPLE + 60_000
    frame = pd.DataFrame({"label": rng.integers(0, 2, n), "score": rng.random(n),
                          "rule_flag": rng.choice(["yes", "no", "1", "0"], n),
                          "segment": rng.choice(["a", "b", "c"], n)})
    path = tmp_path / "big.parquet"
    frame.to_parquet(path)
    loaded = [load_predictions(path, scores=["score"]).counts("score", mode="binned", keys=["segment"],
                                                               decisions=("rule_flag",)) for _ in range(2)]
    flag = frame["rule_flag"].isin(["yes", "1"]).astype(np.int8).to_numpy()
    expected = counts_from_arrays(frame["label"].to_numpy(), frame["score"].to_numpy(), mode="binned",
                                  keys={"segment": frame["segment"].to_numpy(dtype=object), "rule_flag": flag})
    for counts in loaded:
        assert np.array_equal(np.unique(counts.scores), np.unique(expected.scores))
        assert counts.cells == expected.cells
