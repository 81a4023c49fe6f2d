"""Files as people really save them: Windows-1252 and UTF-16 text, old Mac line endings, a column named
rowid, names that differ only by case, cells beyond the limits, weights that stand for nothing or overflow.
Each is read right (the values and the note naming the encoding) or refused naming the file, the column,
the row and the fix."""

from __future__ import annotations

import dataclasses
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metricbridge.errors import InputError, MetricBridgeError
from metricbridge.limits import LIMITS
from metricbridge.loading import load_predictions, reading

TABLE = "id,label,score,note\n{first},1,0.9,{note}\nb,0,0.2,plain\nc,1,0.7,plain\n"


def _ids_and_notes(path) -> tuple[list, list, tuple[str, ...]]:
    predictions = load_predictions(path, id="id")
    frame = predictions.preview()
    return list(frame["id"]), list(frame["note"]), predictions.table.notes


def test_windows_1252_is_read_with_its_euro_sign_and_curly_quotes(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(TABLE.format(first="\u20ac42", note="\u201cquoted\u201d").encode("cp1252"))
    ids, notes, said = _ids_and_notes(path)
    assert ids[0] == "\u20ac42" and notes[0] == "\u201cquoted\u201d"
    assert any("read as Windows-1252" in note and "line 2" in note for note in said)


@pytest.mark.parametrize(("encoding", "words"), [
    ("utf-16", "UTF-16 (it starts with a byte-order mark)"),
    ("utf-16-le", "UTF-16 (little-endian, without a byte-order mark)"),
    ("utf-16-be", "UTF-16 (big-endian, without a byte-order mark)"),
    ("utf-32", "UTF-32 (it starts with a byte-order mark)"),
    ("utf-8-sig", "UTF-8 (with the byte-order mark Excel writes)"),
])
def test_wide_and_marked_encodings_are_read_and_named(tmp_path, encoding, words):
    path = tmp_path / "scores.csv"
    path.write_bytes(TABLE.format(first="caf\u00e9", note="n\u00famero").encode(encoding))
    ids, notes, said = _ids_and_notes(path)
    assert ids == ["caf\u00e9", "b", "c"] and notes[0] == "n\u00famero"
    assert any(words in note for note in said), said


@pytest.mark.parametrize("newline", ["\r", "\r\n", "mixed"])
def test_old_mac_and_mixed_line_endings_keep_rows_and_row_numbers(tmp_path, newline):
    lines = ["id,label,score", "a,1,0.9", "b,0,0.2", "c,maybe,0.7", "d,1,0.1"]
    text = ("\r".join(lines[:3]) + "\n" + "\r\n".join(lines[3:]) if newline == "mixed"
            else newline.join(lines)) + "\n"
    path = tmp_path / "mac.csv"
    path.write_bytes(text.encode())
    with pytest.raises(InputError) as error:
        load_predictions(path)
    assert "'maybe' (row 4)" in str(error.value) and "mac.csv" in str(error.value)
    path.write_bytes(text.replace("maybe", "0").encode())
    assert load_predictions(path).table.n_rows == 4


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("name", ["rowid", "ROWID"])
def test_a_column_named_rowid_is_an_ordinary_column_and_row_numbers_stay_true(tmp_path, kind, name):
    labels, scores = ["1", "0", "1", "maybe"], [0.9, 0.1, 0.8, 0.5]
    path = tmp_path / f"rows.{kind}"
    if kind == "csv":
        path.write_text(f"{name},label,score\n" + "".join(f"{70 + i},{y},{s}\n" for i, (y, s) in
                                                         enumerate(zip(labels, scores, strict=True))))
    else:
        pq.write_table(pa.table({name: [70, 71, 72, 73], "label": labels, "score": scores}), path)
    with pytest.raises(InputError) as error:
        load_predictions(path)
    assert "'maybe' (row 5)" in str(error.value)
    good = tmp_path / f"good.{kind}"
    if kind == "csv":
        good.write_text(path.read_text().replace("maybe", "0"))
    else:
        pq.write_table(pa.table({name: [70, 71, 72, 73], "label": [1, 0, 1, 0], "score": scores}), good)
    predictions = load_predictions(good, scores=["score"])
    assert name in predictions.table.columns
    assert list(predictions.preview()[name]) == [70, 71, 72, 73]
    assert list(predictions.preview().index) == [2, 3, 4, 5]


@pytest.mark.parametrize("header", ["Score,label,score", "score ,label,score"])
def test_names_that_differ_only_by_case_or_a_trailing_space_are_refused_by_name(tmp_path, header):
    path = tmp_path / "twins.csv"
    path.write_text(f"{header}\n1,1,0.9\n2,0,0.1\n")
    with pytest.raises(InputError) as error:
        load_predictions(path)
    message = str(error.value)
    assert "twins.csv" in message and "columns 1" in message and "and 3" in message and "Rename one" in message


def test_ids_holding_formulas_and_html_are_plain_text(tmp_path):
    payloads = ['=HYPERLINK("http://x","y")', "+1+1", "@SUM(A1)", "<script>alert(1)</script>"]
    path = tmp_path / "hostile.csv"
    path.write_text("id,label,score\n" + "".join(f'"{p.replace(chr(34), chr(34) * 2)}",{i % 2},0.{i + 1}\n'
                                                 for i, p in enumerate(payloads)))
    assert list(load_predictions(path, id="id").preview()["id"]) == payloads


def test_a_cell_beyond_the_limit_names_the_limit_the_column_and_the_row(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "LIMITS", dataclasses.replace(LIMITS, cell_bytes=1000))
    path = tmp_path / "long.csv"
    path.write_text("id,label,score\n" + "".join(f"r{i},{i % 2},0.5\n" for i in range(3000)) + f"{'x' * 5000},1,0.3\n")
    with pytest.raises(InputError) as error:
        load_predictions(path)
    message = str(error.value)
    assert "long.csv" in message and "limits.cell_bytes" in message and "'id'" in message and "row 3002" in message


@pytest.mark.parametrize("quoted", [False, True])
def test_a_line_beyond_the_limit_names_the_limit(tmp_path, quoted):
    """A line (or one quoted cell) longer than limits.line_bytes, after ordinary rows: built here, 17 MiB."""
    path = tmp_path / "line.csv"
    cell = "y" * (LIMITS.line_bytes + (1 << 20))
    with path.open("w") as out:
        out.write("id,label,score\n" + "".join(f"r{i},{i % 2},0.5\n" for i in range(1000)))
        out.write(f'"{cell}",0,0.1\n' if quoted else f"{cell},0,0.1\n")
    with pytest.raises(InputError) as error:
        load_predictions(path)
    message = str(error.value)
    assert "line.csv" in message and "limits.line_bytes" in message and "line 1,002 is 17,825," in message


def test_more_columns_than_the_limit_are_refused_with_the_count(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "LIMITS", dataclasses.replace(LIMITS, columns=10))
    path = tmp_path / "wide.csv"
    names = ["label", "score", *(f"c{i}" for i in range(20))]
    path.write_text(",".join(names) + "\n" + ",".join(["1", "0.5", *("0" * 20)]) + "\n")
    with pytest.raises(InputError) as error:
        load_predictions(path)
    assert "22" in str(error.value) and "limits.columns" in str(error.value)


@pytest.mark.parametrize(("weights", "fragments"), [
    (["0", "0", "0"], ["is 0 in every row", "3 rows", "--weight"]),
    (["1", "1e308", "2"], ["above 1e+12", "limits.weight", "row 3", "1e+308"]),
    (["1", "inf", "2"], ["row 3", "weight"]),
    (["1", "-2", "2"], ["row 3", "-2"]),
])
def test_weights_that_stand_for_nothing_or_overflow_are_refused(tmp_path, weights, fragments):
    path = tmp_path / "weighted.csv"
    path.write_text("label,score,w\n" + "".join(f"{i % 2},0.{i + 1},{w}\n" for i, w in enumerate(weights)))
    with pytest.raises(InputError) as error:
        load_predictions(path, weight="w")
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)


# -- fuzzing: whatever the bytes, a table or a MetricBridgeError, quickly ----------------------------------------

_CELLS = st.one_of(st.sampled_from(["0", "1", "0.5", "", "NA", "yes", "no", "-1", "1e308", "nan", "inf", '"', "'",
                                    "=1+1", "\u20ac", "\x00", "label", "score", "rowid", " Score "]),
                   st.text(max_size=8))


@st.composite
def _csv_like(draw) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", " "]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    width = draw(st.integers(1, 5))
    header = draw(st.lists(st.sampled_from(["label", "score", "Score", "rowid", "w", "id", "", "x"]) | st.text(
        max_size=6), min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(_CELLS, min_size=max(1, width - 1), max_size=width + 1), max_size=12))
    text = newline.join(delimiter.join(row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
    return text.encode(encoding, errors="replace")


def _loads_or_refuses(path) -> None:
    start = time.perf_counter()
    try:
        load_predictions(path)
    except MetricBridgeError:
        pass
    assert time.perf_counter() - start < 2.0


@given(st.one_of(st.binary(max_size=600), _csv_like()))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_csv_bytes_load_or_are_refused_in_the_projects_own_words(tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    _loads_or_refuses(path)


@given(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique=True),
       st.lists(st.sampled_from(["int", "float", "text", "bool", "null"]), min_size=4, max_size=4),
       st.integers(0, 6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_parquet_tables_load_or_are_refused_in_the_projects_own_words(tmp_path, names, kinds, rows):
    values = {"int": list(range(rows)), "float": [i / 7 for i in range(rows)], "text": [f"t{i}" for i in range(rows)],
              "bool": [i % 2 == 0 for i in range(rows)], "null": [None] * rows}
    table = pa.table({name: values[kind] for name, kind in zip(names, kinds, strict=False)})
    path = tmp_path / "fuzz.parquet"
    pq.write_table(table, path)
    _loads_or_refuses(path)
