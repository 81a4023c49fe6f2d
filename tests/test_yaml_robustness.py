"""YAML files as a careless or hostile user writes them: every bad file is refused with a message naming the
file, the line, the field and the fix; fuzzed bytes and documents end in success or a MetricBridgeError,
each within a time bound; the limits hold exactly at their edges."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metricbridge import counts_from_arrays, curve_from_counts, yamlfile
from metricbridge.criteria import Criteria, criteria_to_yaml, load_criteria
from metricbridge.errors import CriteriaError, MetricBridgeError, ScenarioError
from metricbridge.limits import LIMITS
from metricbridge.outcomes import outcomes_for_curve
from metricbridge.scenario import OUTCOME_VALUES, Scenario, load_scenario, parse_scenario, scenario_to_yaml

BAD = Path(__file__).parent / "data" / "bad"
DATA = Path(__file__).resolve().parents[1] / "data"
PRESETS = sorted((DATA / "scenarios").glob("*.yaml"))
AGREEMENTS = sorted((DATA / "criteria").glob("*.yaml"))
SECONDS = 2.0  # the most one fuzzed example may take

# file, fragments its message must hold besides its name (the line, the field, what is wrong and the fix)
BAD_YAML = [
    # alias expansion, recursion and nesting: refused while composing, before any Python object is built
    ("scenario_billion_laughs.yaml", ["line 8", "name.lol3[0]", "limits.yaml_aliases", "write the repeated parts"]),
    ("scenario_alias_fan_out.yaml", ["line 123", "status_quo[102]", "*entry", "limits.yaml_aliases"]),
    ("scenario_merge_bomb.yaml", ["line 43", "copy38", "limits.yaml_nodes", "20,000"]),
    ("scenario_recursive_alias.yaml", ["line 21", "status_quo[0].again", "*loop", "without end"]),
    ("scenario_recursive_list.yaml", ["line 7", "volume[1]", "*v", "without end"]),
    ("scenario_deep_nesting.yaml", ["line 7", "volume[0]", "limits.yaml_depth", "brackets"]),
    ("scenario_deep_indentation.yaml", ["value.more.level0", "limits.yaml_depth", "indentation"]),
    ("criteria_billion_laughs.yaml", ["line 8", "agreed_by.lol3[0]", "limits.yaml_aliases"]),
    ("criteria_recursive_alias.yaml", ["line 4", "agreed_by[1]", "*people", "without end"]),
    ("criteria_deep_nesting.yaml", ["line 9", "criteria[0][0]", "limits.yaml_depth"]),
    # encodings and bytes: UTF-16/32 with a BOM and Windows-1252 are read, and named when a field is wrong
    ("scenario_utf16_bad_volume.yaml", ["line 7", "volume", "'twenty thousand'", "read as UTF-16 LE"]),
    ("scenario_utf16be_bad_field.yaml", ["line 13", "unknown field 'curency'", "read as UTF-16 BE"]),
    ("scenario_cp1252_bad_period.yaml", ["line 6", "period", "'fortnight'", "read as Windows-1252"]),
    ("scenario_latin1_control_byte.yaml", ["line 2", "control character U+0081", "read as Latin-1"]),
    ("scenario_utf16_no_bom.yaml", ["not a text file", "UTF-16 without a byte-order mark", "save it as UTF-8"]),
    ("scenario_binary_junk.yaml", ["not a text file", "NUL bytes", "choose the YAML file"]),
    ("scenario_gzip.yaml", ["not a text file", "NUL bytes"]),
    ("scenario_broken_utf8_after_bom.yaml", ["line 2", "UTF-8 byte-order mark", "byte 64", "save the file again"]),
    ("scenario_control_character.yaml", ["line 2", "control character U+0007", "remove it"]),
    ("criteria_binary.yaml", ["not a text file", "NUL bytes"]),
    ("criteria_cp1252_bad_metric.yaml", ["line 9", "criteria[0].metric", "'précision'", "read as Windows-1252"]),
    ("criteria_utf16_bad_objective.yaml", ["line 7", "objective", "'as good as possible'", "read as UTF-16 LE"]),
    # numbers: range and finiteness where they enter, against limits.py
    ("scenario_integer_400_digits.yaml", ["line 7", "volume", "401 characters", "fix the number"]),
    ("scenario_volume_above_limit.yaml", ["line 7", "volume", "1e+20", "limits.volume", "shorter period"]),
    ("scenario_float_overflow.yaml", ["line 16", "value.false_alarm", "finite number", "-inf"]),
    ("scenario_cost_near_max.yaml", ["line 11", "cost_per_hour", "1.7e+308", "limits.money", "larger unit"]),
    ("scenario_value_above_limit.yaml", ["line 14", "value.caught", "5e+15", "limits.money"]),
    ("scenario_huge_times.yaml", ["line 14", "value.caught.times", "1e+30", "limits.times", "scale the column"]),
    ("scenario_minutes_above_limit.yaml", ["line 10", "minutes_per_action", "limits.minutes", "typo"]),
    ("scenario_capacity_above_limit.yaml", ["line 9", "capacity", "limits.volume", "leave capacity out"]),
    ("scenario_prevalence_one.yaml", ["line 8", "prevalence", "strictly between 0 and 1"]),
    ("scenario_effort_share_above_one.yaml", ["line 22", "status_quo[0].effort_share", "at most 1", "1.5"]),
    ("scenario_nan_recall.yaml", ["line 20", "status_quo[0].recall", "finite number", "nan"]),
    ("scenario_int_tag_on_text.yaml", ["line 7", "'lots' cannot be read as a whole number", "remove its tag"]),
    ("criteria_bound_400_digits.yaml", ["line 9", "criteria[0].at_least", "401 characters"]),
    ("criteria_bound_overflow.yaml", ["line 10", "criteria[1].at_most", "finite number"]),
    ("criteria_bound_infinite.yaml", ["line 10", "criteria[1].at_most", "finite number", "inf"]),
    ("criteria_confidence_nan.yaml", ["line 6", "confidence", "finite number", "nan"]),
    ("criteria_confidence_one.yaml", ["line 6", "confidence", "above 0.5 and below 1"]),
    ("criteria_version_huge.yaml", ["line 3", "version", "10000000000", "999,999,999", "next number"]),
    ("criteria_version_zero.yaml", ["line 3", "version", "whole number from 1 up", "not 0"]),
    ("criteria_version_fraction.yaml", ["line 3", "version", "whole number from 1 up", "2.5"]),
    # dates
    ("criteria_impossible_date.yaml", ["line 5", "agreed_on", "'2026-02-30'", "no day of the calendar",
                                       "2026-11-20"]),
    ("criteria_month_13.yaml", ["line 5", "agreed_on", "'2026-13-01'", "no day of the calendar"]),
    ("criteria_day_first_date.yaml", ["line 5", "agreed_on", "'20/11/2026'", "year-month-day"]),
    ("criteria_date_in_words.yaml", ["line 5", "agreed_on", "'November 20, 2026'", "year-month-day"]),
    # shapes, keys and tags
    ("scenario_list_document.yaml", ["line 2", "the scenario", "not a list", "one field per line"]),
    ("scenario_scalar_document.yaml", ["line 2", "the scenario", "not text", "one field per line"]),
    ("scenario_number_key.yaml", ["line 13", "not text (a number: 2026)", "quote it"]),
    ("scenario_null_key.yaml", ["line 15", "value", "not text (empty)"]),
    ("scenario_yes_key.yaml", ["line 6", "not text (read as yes/no: yes)", "quote it"]),
    ("scenario_mapping_key.yaml", ["line 13", "not text (a mapping)"]),
    ("scenario_duplicate_key.yaml", ["line 13", "volume", "appears twice (lines 7 and 13)", "keep one"]),
    ("scenario_duplicate_nested_key.yaml", ["line 17", "value.caught", "lines 14 and 17"]),
    ("scenario_tab_indent.yaml", ["line 15", "not valid YAML", "indented with a tab", "replace the tab with spaces"]),
    ("scenario_python_tag.yaml", ["line 2", "name", "!!python/object/apply:os.system", "nothing in it is ever run",
                                  "remove the tag"]),
    ("scenario_local_tag.yaml", ["line 7", "volume", "!daily", "remove the tag"]),
    ("scenario_empty.yaml", ["is empty", "needs at least volume and value"]),
    ("scenario_only_comments.yaml", ["holds only comments", "needs at least volume and value"]),
    ("scenario_long_key.yaml", ["line 13", "not valid YAML", "at most 1024 characters"]),
    ("scenario_undefined_alias.yaml", ["line 9", "undefined alias 'reviews'", "define the anchor"]),
    ("scenario_two_documents.yaml", ["line 13", "single document", "keep one document"]),
    ("criteria_list_document.yaml", ["line 2", "the criteria", "not a list", "one field per line"]),
    ("criteria_duplicate_key.yaml", ["line 8", "version", "lines 3 and 8", "keep one"]),
    ("criteria_duplicate_in_entry.yaml", ["line 9", "criteria[0].metric", "appears twice (both on line 9)"]),
    ("criteria_number_key.yaml", ["line 5", "the criteria", "not text (a number: 2)"]),
    ("criteria_python_tag.yaml", ["line 2", "name", "!!python/object:os.system", "remove the tag"]),
    ("criteria_tab_indent.yaml", ["line 9", "indented with a tab"]),
    ("criteria_empty.yaml", ["is empty", "a name, a version and criteria"]),
    ("criteria_only_comments.yaml", ["holds only comments"]),
    ("criteria_name_is_list.yaml", ["line 2", "name", "must be text, not a list"]),
    ("criteria_agreed_by_mapping.yaml", ["line 4", "agreed_by", "must be text, not a mapping"]),
]


def _load(path: Path) -> Scenario | Criteria:
    return load_scenario(path) if path.name.startswith("scenario_") else load_criteria(path)


@pytest.fixture(params=["libyaml", "python"])
def parser(request, monkeypatch):
    """Both parsers: libyaml's when PyYAML has it (the usual case), PyYAML's own otherwise."""
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML is built without libyaml")
    if request.param == "python":
        pure = yamlfile._loader(True)
        monkeypatch.setattr(yamlfile, "_loader", lambda pure_=False: pure)
    return request.param


def test_the_bad_yaml_corpus_is_covered():
    assert len(BAD_YAML) >= 25
    names = [name for name, _ in BAD_YAML]
    assert len(set(names)) == len(names)
    assert set(names) <= {p.name for p in BAD.glob("*.yaml")}
    assert {name.split("_")[0] for name in names} == {"scenario", "criteria"}


@pytest.mark.parametrize("name, fragments", BAD_YAML, ids=[row[0] for row in BAD_YAML])
def test_bad_yaml_files_get_a_message_that_says_what_where_and_how_to_fix(name, fragments, parser):
    error = ScenarioError if name.startswith("scenario_") else CriteriaError
    started = time.perf_counter()
    with pytest.raises(error) as raised:
        _load(BAD / name)
    assert time.perf_counter() - started < SECONDS
    message = str(raised.value)
    assert message.startswith(name)
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize("name, fragments", BAD_YAML[:12], ids=[row[0] for row in BAD_YAML[:12]])
def test_text_given_directly_is_refused_the_same_way(name, fragments):
    raw = (BAD / name).read_bytes()
    text, _ = yamlfile.decode_yaml(raw, name, ScenarioError)
    with pytest.raises(MetricBridgeError) as raised:
        (load_scenario if name.startswith("scenario_") else load_criteria)(name, text=text)
    assert all(fragment in str(raised.value) for fragment in fragments if not fragment.startswith("read as"))


# -- encodings ----------------------------------------------------------------------------------------------

GOOD = "name: Café – “crème”\nvolume: 3\nvalue: {caught: 1.5}\n"


@pytest.mark.parametrize("encoding, bom", [
    ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
    ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"), ("cp1252", b""),
])
def test_every_common_encoding_reads_the_same_scenario(tmp_path, encoding, bom):
    path = tmp_path / "s.yaml"
    path.write_bytes(bom + GOOD.encode(encoding))
    scenario = load_scenario(path)
    assert scenario.name == "Café – “crème”" and scenario.item_value("caught").constant == 1.5


def test_latin1_bytes_that_windows_1252_leaves_undefined_are_read_as_latin1(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes("name: Ångström\nvolume: 3\nvalue: {}\nitem: \x8d\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"line 4: holds the control character U\+008D.*read as Latin-1"):
        load_scenario(path)
    path.write_bytes("name: Ångström\nvolume: 3\nvalue: {}\n".encode("latin-1"))
    assert load_scenario(path).name == "Ångström"


def test_a_lone_surrogate_in_text_is_named():
    with pytest.raises(ScenarioError, match=r"line 2: holds U\+D800"):
        load_scenario("s.yaml", text="volume: 3\nname: \ud800\nvalue: {}\n")


# -- the limits, at and just past each edge ------------------------------------------------------------------

def test_files_up_to_the_byte_limit_are_read_and_past_it_refused_before_parsing(tmp_path):
    head = "volume: 3\nvalue: {}\nname: "
    fits = head + "x" * (LIMITS.yaml_bytes - len(head) - 1) + "\n"
    assert len(fits.encode()) == LIMITS.yaml_bytes
    assert len(load_scenario("s.yaml", text=fits).name) == LIMITS.yaml_bytes - len(head) - 1
    path = tmp_path / "huge.yaml"
    path.write_text(fits + "# one more\n")
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match=r"huge.yaml: is 1,048,587 bytes, above the limit of 1,048,576 bytes "
                                            r"\(limits.yaml_bytes\)"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="limits.yaml_bytes"):
        load_scenario("huge.yaml", text=fits + "# é\n")
    with pytest.raises(ScenarioError, match="limits.yaml_bytes"):  # one huge string in a text of few characters
        load_scenario("huge.yaml", text="name: " + "é" * LIMITS.yaml_bytes)
    assert time.perf_counter() - started < SECONDS


def _aliases(uses: int) -> str:
    return "volume: &v 3\nvalue: {}\nname: &n x\nitem: [" + ", ".join(["*v"] * uses) + "]\n"


def test_alias_uses_up_to_the_limit_are_read_and_one_more_refused():
    with pytest.raises(ScenarioError, match="item: must be text, not a list"):  # read: only the field is wrong
        load_scenario("s.yaml", text=_aliases(LIMITS.yaml_aliases))
    with pytest.raises(ScenarioError, match=r"line 4: item\[100\]: repeats anchors more than 100 times"):
        load_scenario("s.yaml", text=_aliases(LIMITS.yaml_aliases + 1))


def test_aliases_count_what_they_repeat():
    # an anchor holding 10 aliases, repeated k times: 10 + 11 k uses once expanded (98 for k = 8, 109 for 9)
    def text(k: int) -> str:
        return ("volume: &v 3\nvalue: {}\nitem: &ten [" + ", ".join(["*v"] * 10) + "]\npositive: ["
                + ", ".join(["*ten"] * k) + "]\n")

    with pytest.raises(ScenarioError, match="item: must be text, not a list"):
        load_scenario("s.yaml", text=text(8))
    with pytest.raises(ScenarioError, match=r"line 4: positive\[8\]: repeats anchors more than 100 times \(\*ten"):
        load_scenario("s.yaml", text=text(9))


def _nested(depth: int) -> str:
    return "volume: 3\nvalue: {}\nitem: " + "[" * (depth - 1) + "]" * (depth - 1) + "\n"


def test_nesting_up_to_the_depth_limit_is_read_and_one_level_more_refused():
    with pytest.raises(ScenarioError, match="item: must be text, not a list"):
        load_scenario("s.yaml", text=_nested(LIMITS.yaml_depth))
    with pytest.raises(ScenarioError, match=r"line 3: item\[0\].*more than 32 levels deep \(limits.yaml_depth\)"):
        load_scenario("s.yaml", text=_nested(LIMITS.yaml_depth + 1))
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="limits.yaml_depth"):  # no RecursionError, however deep
        load_scenario("s.yaml", text=_nested(200_000))
    assert time.perf_counter() - started < SECONDS


def test_nodes_up_to_the_limit_are_read_quickly_and_one_more_refused():
    head = "volume: 3\nvalue: {}\nitem: ["  # the root, 4 keys and 2 values (the value mapping), and the list
    fits = LIMITS.yaml_nodes - 7
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="item: must be text, not a list"):
        load_scenario("s.yaml", text=head + "1," * fits + "]\n")
    assert time.perf_counter() - started < SECONDS
    with pytest.raises(ScenarioError, match=r"more than 20,000 keys, values and items.*limits.yaml_nodes"):
        load_scenario("s.yaml", text=head + "1," * (fits + 1) + "]\n")


def test_anchors_and_merges_within_the_limits_still_work():
    text = ("volume: 3\nvalue:\n  <<: &worths {caught: 10, missed: -4}\n  missed: -5\nstatus_quo:\n"
            "  - &rule {name: Rule, recall: 0.5, false_alarm_rate: 0.1}\n  - {<<: *rule, name: Other}\n")
    scenario = load_scenario("s.yaml", text=text)
    assert scenario.item_value("caught").constant == 10 and scenario.item_value("missed").constant == -5
    assert [sq.name for sq in scenario.status_quo] == ["Rule", "Other"]
    assert scenario.status_quo[1].recall == 0.5


def test_a_field_under_an_alias_is_named_with_the_line_of_the_alias():
    text = "volume: 3\nvalue: {}\nstatus_quo:\n  - &a {name: A, recall: 2, false_alarm_rate: 0}\n  - *a\n"
    with pytest.raises(ScenarioError, match=r"line 4: status_quo\[0\].recall: must be at most 1"):
        load_scenario("s.yaml", text=text)


def test_numbers_at_the_limits_are_accepted_and_give_finite_outcomes():
    """The largest accepted figures multiply to finite totals, so the best threshold is always found."""
    money, volume = LIMITS.money, LIMITS.volume
    scenario = parse_scenario({
        "volume": volume, "capacity": volume, "minutes_per_action": LIMITS.minutes, "cost_per_hour": money,
        "value": {"caught": money, "missed": -money, "false_alarm": -money, "left_alone": money},
    })
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.9, 0.4, 0.6, 0.3, 0.8])
    outcomes = outcomes_for_curve(curve_from_counts(counts_from_arrays(y, s)), scenario)
    assert np.isfinite(outcomes.value).all()
    assert 0 <= outcomes.best_index < len(outcomes.thresholds)
    with pytest.raises(ScenarioError, match=r"value.caught: is 1000000001000, above the limit"):
        scenario.with_changes(value={"caught": money * 1.000000001})
    with pytest.raises(ScenarioError, match=r"value.caught: is about -1e\+400, below the limit of -1e\+12"):
        scenario.with_changes(value={"caught": -(10**400)})  # from Python, not YAML: no OverflowError either


_TAGS = sorted(tag.removeprefix("tag:yaml.org,2002:") for tag in yaml.SafeLoader.yaml_constructors if tag)


@pytest.mark.parametrize("tag", _TAGS)
@pytest.mark.parametrize("value", ["abc", "1:x", "é", "'2026-02-30'", "~", "[1, 2]", "{a: 1}", "0x", "''"])
def test_every_standard_tag_on_any_value_reads_or_is_refused_by_us(tag, value, parser):
    text = f"volume: 3\nvalue: {{}}\nname: !!{tag} {value}\n"
    _expect_refusal_or_success(load_scenario, "tagged.yaml", text=text)
    with pytest.raises(ScenarioError, match=r"^tagged.yaml, line 2: "):  # nothing here is a volume
        load_scenario("tagged.yaml", text=text.replace("volume: 3\n", "").replace("name:", "volume:"))


def test_valid_presets_read_exactly_as_pyyaml_reads_them(parser):
    for path in [*PRESETS, *AGREEMENTS]:
        _, data, _ = yamlfile.read_yaml(path, None, MetricBridgeError, "-")
        assert data == yaml.safe_load(path.read_text(encoding="utf-8")), path.name


# -- fuzzing ------------------------------------------------------------------------------------------------

SEEDS = [path.read_bytes() for path in [*PRESETS, *AGREEMENTS]]
# METRICBRIDGE_FUZZ=5000 fuzzes harder (locally); the default keeps this file to a few seconds.
FUZZ = settings(deadline=None, max_examples=int(os.environ.get("METRICBRIDGE_FUZZ", "100")),
                suppress_health_check=[HealthCheck.too_slow])


def _expect_refusal_or_success(read: Any, *args: Any, **kwargs: Any) -> object | None:
    """Calls ``read``; only success or a MetricBridgeError may come out, within SECONDS."""
    started = time.perf_counter()
    try:
        result = read(*args, **kwargs)
    except MetricBridgeError as error:
        assert str(error) and "\n" not in str(error)
        result = None
    assert time.perf_counter() - started < SECONDS, args[:1]
    return result


def _check_read_back(result: object | None) -> None:
    if isinstance(result, Scenario):
        numbers = [result.volume, result.minutes_per_action, result.cost_per_hour, result.capacity or 0,
                   result.prevalence or 0.5, *(v.constant for v in result.value.values()),
                   *(v.times for v in result.value.values())]
        assert all(math.isfinite(n) for n in numbers)
        assert load_scenario("again.yaml", text=scenario_to_yaml(result)) == result
    elif isinstance(result, Criteria):
        assert all(math.isfinite(c.bound) for c in result.criteria) and 0 < result.version < 10**9
        assert load_criteria("again.yaml", text=criteria_to_yaml(result)) == result


@st.composite
def mutated(draw: st.DrawFn) -> tuple[int, bytes]:
    """(which seed, its bytes mutated): flipped bytes, a cut, an inserted anchor, alias, nesting or text."""
    index = draw(st.integers(0, len(SEEDS) - 1))
    raw = bytearray(SEEDS[index])
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["flip", "cut", "anchor", "alias", "nest", "unicode", "bytes", "indent", "tag"]))
        if kind == "flip" and raw:
            raw[min(where, len(raw) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del raw[where:]
        elif kind == "anchor":
            raw[where:where] = f" &{draw(st.sampled_from('abc'))} ".encode()
        elif kind == "alias":
            raw[where:where] = (" " + " ".join([f"*{draw(st.sampled_from('abc'))}"] * draw(st.integers(1, 3)))).encode()
        elif kind == "nest":
            depth = draw(st.integers(1, 80))
            raw[where:where] = ("[" * depth + "]" * draw(st.integers(0, depth))).encode()
        elif kind == "unicode":
            raw[where:where] = draw(st.text(min_size=1, max_size=8)).encode("utf-8", "surrogatepass")
        elif kind == "tag":
            raw[where:where] = f" !!{draw(st.sampled_from([*_TAGS, 'python/object:os.system']))} ".encode()
        elif kind == "bytes":
            raw[where:where] = draw(st.binary(min_size=1, max_size=8))
        else:
            raw[where:where] = draw(st.sampled_from([b"\t", b"\n  ", b"\n\t", b": ", b"- ", b"<<: ", b"? "]))
    return index, bytes(raw)


def _reader_for(index: int) -> Any:
    return load_scenario if index < len(PRESETS) else load_criteria


@FUZZ
@given(mutated())
def test_mutated_presets_read_as_bytes_end_in_success_or_our_error(tmp_path_factory, case):
    index, raw = case
    path = tmp_path_factory.getbasetemp() / "mutated.yaml"
    path.write_bytes(raw)
    _check_read_back(_expect_refusal_or_success(_reader_for(index), path))


@FUZZ
@given(mutated())
def test_mutated_presets_given_as_text_end_in_success_or_our_error(case):
    index, raw = case
    text = raw.decode("utf-8", "surrogateescape")  # as odd a str as a caller might pass
    _check_read_back(_expect_refusal_or_success(_reader_for(index), "mutated.yaml", text=text))


@FUZZ
@given(st.binary(max_size=600), st.booleans())
def test_random_bytes_end_in_success_or_our_error(tmp_path_factory, raw, criteria):
    path = tmp_path_factory.getbasetemp() / "random.yaml"
    path.write_bytes(raw)
    _expect_refusal_or_success(load_criteria if criteria else load_scenario, path)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("{}[]:-,&*!|>'\"#%@` \t\n\r?<=~.0123456789eEabxyz_")) | st.characters(),
               max_size=300), st.booleans())
def test_random_text_ends_in_success_or_our_error(text, criteria):
    _expect_refusal_or_success(load_criteria if criteria else load_scenario, "random.yaml", text=text)


_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-(10**400), 10**400)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) | st.dates()
            | st.sampled_from(["day", "week", "2026-02-30", "1e400", "yes", "no", "Amount rule", "recall",
                               "maximize value", ""]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=8) | st.sampled_from([*OUTCOME_VALUES, "column", "times",
                                                                                  "name", "recall"]), inner,
                                         max_size=4), max_leaves=12)
_SCENARIO_FIELDS = ["name", "item", "positive", "action", "period", "volume", "prevalence", "capacity",
                    "minutes_per_action", "cost_per_hour", "currency", "value", "status_quo"]
_CRITERIA_FIELDS = ["name", "version", "agreed_by", "agreed_on", "note", "confidence", "objective", "criteria"]


@FUZZ
@given(st.dictionaries(st.sampled_from(_SCENARIO_FIELDS), _VALUES, max_size=len(_SCENARIO_FIELDS)))
def test_scenarios_of_random_shapes_end_in_success_or_our_error(fields):
    _check_read_back(_expect_refusal_or_success(load_scenario, "shaped.yaml", text=yaml.safe_dump(fields)))
    _check_read_back(_expect_refusal_or_success(parse_scenario, fields, source="shaped"))


@FUZZ
@given(st.dictionaries(st.sampled_from(_CRITERIA_FIELDS), _VALUES, max_size=len(_CRITERIA_FIELDS)),
       st.lists(st.dictionaries(st.sampled_from(["metric", "at_least", "at_most", "relative_to"]),
                                st.sampled_from(["recall", "value", "caught", "Rule"]) | _SCALARS, max_size=3),
                max_size=3))
def test_criteria_of_random_shapes_end_in_success_or_our_error(fields, entries):
    fields = {"name": "x", "version": 1, "criteria": entries, **fields}
    _check_read_back(_expect_refusal_or_success(load_criteria, "shaped.yaml", text=yaml.safe_dump(fields)))
