"""How fast the app answers: every page in AppTest through app.py's navigation, and the Metrics page in Chromium.

Run from the repository root::

    .venv/bin/python benchmarks/bench_ui.py                  # demo data, AppTest + headless Chromium
    .venv/bin/python benchmarks/bench_ui.py --big            # also with a 10-million-row file uploaded
    .venv/bin/python benchmarks/bench_ui.py --no-browser --pages metrics outcomes --moves 3   # a quick look
    .venv/bin/python benchmarks/bench_ui.py --big --write    # and replace the UI section of results.txt

AppTest section: one fresh AppTest session per page (``AppTest.from_file(app.py)``, Home run once so the file is
counted, then ``at.switch_page("pages/<key>.py").run()``, exactly as tests/test_ui.py reaches a page). Timed:
"counting" (the very first cold run of Home in the process), "first open" (the switch from Home to the page, in
``--opens`` sessions; sessions after the first start at a distinct ``?threshold=`` so per-threshold caches miss)
and each main control moved ``--moves`` times to distinct values (``set_value(...).run()``; a data editor's
edit state is assigned on ``at.session_state``). Every control is put back (untimed) before the next one.
The figure judged is the server-side time of the rerun: from the rerun request to Streamlit's "script stopped"
event (AppTest's parsing of the element tree is left out; the wall time of ``.run()`` is shown beside it).

Browser section (``--browser``, on when Chromium is found): ``streamlit run app.py`` on a free localhost port as
tests/browser.py starts it, Debian's Chromium driven by Playwright. Timed in the page (``performance.now()``):
time-to-visible of /metrics (the "Caught" value and the ROC chart's drawn SVG) on the first load after the
server starts, on new tabs once the file is counted, and after a click in the sidebar from Home; then the
"Exact threshold" box typed in and Enter pressed, until the "Caught" value changes (a MutationObserver stamps
the change). Beside it, the server's share as seen on the websocket: from the rerun request sent to the
``script_finished`` message received.

``--big`` writes a Parquet file of 10 million rows (label, score_a, score_b, amount, rule_flag) to a temp dir,
uploads it on the Data page's file uploader when it fits ``server.maxUploadSize`` (a user's only way to load
their own file; otherwise the section says so and is skipped), loads the demo's scenario and criteria files
on the Outcomes and Success criteria pages' uploaders, and repeats the AppTest section.

Projects, Progress and Portfolio work on a temp database ($METRICBRIDGE_DB) seeded with saved runs of the
demo. Targets: an interaction median <= 100 ms and worst <= 200 ms (<= 250 ms with the 10-million-row file);
a first open <= 300 ms. It prints a table (progress goes to stderr) and, last, one JSON line of every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fnmatch
import json
import logging
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.txt"
PAGE_KEYS = ("home", "stakeholder", "data", "metrics", "outcomes", "status_quo", "criteria", "projects", "progress",
             "portfolio")
BIG_ROWS = 10_000_000
SEED = 0

# Targets, in milliseconds: (median, worst).
INTERACTION = (100.0, 200.0)
INTERACTION_BIG = (250.0, 250.0)
FIRST_OPEN = (300.0, 300.0)

SECTION_START = "UI. benchmarks/bench_ui.py"
SECTION_END = "(end of the UI section)"

_START = time.perf_counter()


@dataclass(frozen=True, slots=True)
class Checkout:
    """The app measured: this repository, or another checkout of it (``--root``, e.g. a ``git archive``)."""

    root: Path

    @property
    def app(self) -> Path:
        return self.root / "app.py"

    @property
    def demo(self) -> Path:
        return self.root / "data" / "fraud_transactions.parquet"

    @property
    def scenario(self) -> Path:
        return self.root / "data" / "scenarios" / "demo_fraud.yaml"

    @property
    def criteria(self) -> Path:
        return self.root / "data" / "criteria" / "demo_fraud.yaml"


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# Server-side time of an AppTest rerun
# ----------------------------------------------------------------------------------------------------------------

_CLOCK: dict[str, float | None] = {"requested": None, "stopped": None}


def install_clock() -> bool:
    """Make AppTest's script runner stamp the rerun request and the last "script stopped" event; False when this
    Streamlit's AppTest does not have the runner this relies on (then only wall times are measured)."""
    try:
        from streamlit.runtime.scriptrunner import ScriptRunnerEvent
        from streamlit.testing.v1 import app_test
        from streamlit.testing.v1.local_script_runner import LocalScriptRunner
    except ImportError:
        return False
    if getattr(app_test, "LocalScriptRunner", None) is not LocalScriptRunner:
        return False
    stops = {getattr(ScriptRunnerEvent, name) for name in (
        "SCRIPT_STOPPED_WITH_SUCCESS", "SCRIPT_STOPPED_WITH_COMPILE_ERROR", "SCRIPT_STOPPED_FOR_RERUN",
        "FRAGMENT_STOPPED_WITH_SUCCESS") if hasattr(ScriptRunnerEvent, name)}

    class TimedRunner(LocalScriptRunner):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.on_event.connect(self._stamp, weak=False)

        def _stamp(self, sender: object, event: object = None, **kwargs: Any) -> None:
            if event in stops:
                _CLOCK["stopped"] = time.perf_counter()

        def run(self, *args: Any, **kwargs: Any) -> Any:
            _CLOCK["requested"], _CLOCK["stopped"] = time.perf_counter(), None
            return super().run(*args, **kwargs)

    app_test.LocalScriptRunner = TimedRunner  # type: ignore[misc]
    return True


def timed_run(at: Any) -> tuple[float, float | None]:
    """Rerun ``at``; (wall ms of ``.run()``, server-side ms or None when it could not be stamped)."""
    _CLOCK["requested"] = _CLOCK["stopped"] = None
    start = time.perf_counter()
    at.run()
    wall = 1000 * (time.perf_counter() - start)
    requested, stopped = _CLOCK["requested"], _CLOCK["stopped"]
    server = 1000 * (stopped - requested) if requested is not None and stopped is not None else None
    return wall, server


# ----------------------------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """Timings of one page event or control: each measured rerun in ms, and the target it is held to."""

    data: str
    page: str
    control: str
    target: tuple[float, float] | None
    server_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errored: bool = False

    @property
    def figures(self) -> list[float]:
        """The figures judged: server-side times, or wall times where the runner could not be stamped."""
        return self.server_ms if len(self.server_ms) == len(self.wall_ms) else self.wall_ms

    @property
    def median(self) -> float | None:
        return statistics.median(self.figures) if self.figures else None

    @property
    def worst(self) -> float | None:
        return max(self.figures) if self.figures else None

    @property
    def passed(self) -> bool | None:
        if self.errored or self.target is None or self.median is None or self.worst is None:
            return None
        return self.median <= self.target[0] and self.worst <= self.target[1]

    def add(self, wall: float, server: float | None, value: object = "") -> None:
        self.wall_ms.append(round(wall, 2))
        if server is not None:
            self.server_ms.append(round(server, 2))
        self.values.append(str(value))

    def note_problems(self, at: Any) -> None:
        """Keep what went wrong in the last run: an exception (the row is then not judged) or an error shown."""
        if at.exception:
            self.errored = True
            self.notes.append(f"exception: {str(at.exception[0].value).splitlines()[0][:70]}")
        elif at.error:
            self.notes.append(f"shows an error: {str(at.error[0].value).splitlines()[0][:60]}")

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "page": self.page, "control": self.control, "n": len(self.figures),
                "median_ms": self.median, "worst_ms": self.worst, "server_ms": self.server_ms,
                "wall_ms": self.wall_ms, "values": self.values,
                "target_median_ms": self.target[0] if self.target else None,
                "target_worst_ms": self.target[1] if self.target else None, "pass": self.passed,
                "error": self.errored, "notes": self.notes}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _target(target: tuple[float, float] | None) -> str:
    if target is None:
        return "-"
    return f"<={target[0]:.0f}" if target[0] == target[1] else f"<={target[0]:.0f} / <={target[1]:.0f}"


def _verdict(passed: bool | None, row: Row) -> str:
    if row.errored:
        return "ERROR"
    if not row.figures:
        return "n/a"
    return "-" if passed is None else ("PASS" if passed else "FAIL")


def table(title: str, header: list[str], lines: list[list[str]], *, left: int = 3) -> str:
    """A plain fixed-width table with a title (the first ``left`` columns aligned left, the others right)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < left or i == len(cells) - 1 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = "-" * max(len(fmt(header)), *(len(fmt(line)) for line in lines)) if lines else "-" * len(fmt(header))
    return "\n".join([title, rule, fmt(header), rule, *(fmt(line) for line in lines), rule, ""])


def rows_table(title: str, rows: Sequence[Row]) -> str:
    header = ["data", "page", "control", "n", "median ms", "worst ms", "wall med", "target ms", "result", "note"]
    lines = [[r.data, r.page, r.control, str(len(r.figures)), _ms(r.median), _ms(r.worst),
              _ms(statistics.median(r.wall_ms) if r.wall_ms and r.server_ms else None), _target(r.target),
              _verdict(r.passed, r), "; ".join(dict.fromkeys(r.notes))[:90]] for r in rows]
    return table(title, header, lines)


# ----------------------------------------------------------------------------------------------------------------
# Controls: how to find each one on its page and which values to move it to
# ----------------------------------------------------------------------------------------------------------------

_SEQUENCE = [0]


def _fraction() -> float:
    """A low-discrepancy sequence in [0.12, 0.78]: no two threshold moves of a run share a value."""
    _SEQUENCE[0] += 1
    return 0.12 + 0.66 * ((_SEQUENCE[0] * 0.6180339887) % 1.0)


def _step_round(value: float, step: float | None) -> float:
    if not step:
        return round(value, 6)
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return round(round(value / step) * step, digits)


def spread_values(element: Any, n: int) -> list[Any]:
    """Values spread over the widget's range (on its step), none used before in this run where the step allows."""
    low, high = float(element.min), float(element.max)
    step = float(element.step) if getattr(element, "step", None) else None
    values: list[Any] = []
    for _ in range(50 * n):
        value = _step_round(low + _fraction() * (high - low), step)
        if value not in values and value != element.value:
            values.append(value)
        if len(values) == n:
            break
    return values


def scaled_values(element: Any, n: int) -> list[Any]:
    """The current number times 1.05, 0.95, 1.10...; offsets of 1, 2... around zero; kept within the bounds."""
    current = float(element.value)
    low = getattr(element, "min", None)
    high = getattr(element, "max", None)
    values: list[Any] = []
    k = 1
    while len(values) < n and k < 50:
        sign = 1 if k % 2 else -1
        change = 0.05 * ((k + 1) // 2) * sign
        value = round(current * (1 + change), 4) if current else float(sign * ((k + 1) // 2))
        k += 1
        if (low is not None and value < float(low)) or (high is not None and value > float(high)):
            continue
        if value not in values and value != current:
            values.append(value)
    return values


def _no_repeats(candidates: list[Any], current: Any, n: int) -> list[Any]:
    """``n`` values from ``candidates`` (cycled), none equal to the one before it."""
    candidates = [c for c in candidates if c != current] + [current]
    if len(candidates) < 2:
        return []
    values: list[Any] = []
    previous = current
    i = 0
    while len(values) < n:
        value = candidates[i % len(candidates)]
        i += 1
        if value != previous:
            values.append(value)
            previous = value
    return values


def option_values(element: Any, n: int) -> list[Any]:
    return _no_repeats(list(element.options), element.value, n)


def toggle_values(element: Any, n: int) -> list[Any]:
    return [bool(element.value) ^ (i % 2 == 0) for i in range(n)]


def subset_values(element: Any, n: int) -> list[Any]:
    """Adjacent pairs of options first, then the current choice reversed, then single options."""
    options, current = list(element.options), list(element.value)
    candidates = [[options[i], options[i + 1]] for i in range(len(options) - 1)]
    candidates += [current[::-1]] if len(current) > 1 else []
    candidates += [[option] for option in options]
    unique: list[list[Any]] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return _no_repeats(unique, current, n)


def chosen_subset_values(element: Any, n: int) -> list[Any]:
    """Subsets of what is chosen now (each alone, then in reverse order): the models a user would drop."""
    current = list(element.value)
    candidates = [[option] for option in current] + ([current[::-1]] if len(current) > 1 else [])
    return _no_repeats(candidates, current, n)


def weight_values(element: Any, n: int) -> list[Any]:
    """A column that reads like a weight (amount, weight, count), else the first one offered, and back to none."""
    options = [str(option) for option in element.options]
    columns = [option for option in options if option != str(element.value)]
    named = [option for option in columns if any(word in option.lower() for word in ("weight", "amount", "count"))]
    picked = (named or columns[1:] or columns)[:1]
    return _no_repeats(picked, element.value, n)


def text_values(element: Any, n: int) -> list[Any]:
    return [f"{element.value or 'text'} (bench {i + 1})" for i in range(n)]


def bound_values(element: Any, n: int) -> list[Any]:
    """New bounds for the first criterion of the criteria table, as the data editor's edit state."""
    bound = float(element.value["bound"].iloc[0])
    values = [round(bound * (1 + 0.04 * k * (1 if k % 2 else -1)), 4) for k in range(1, n + 1)]
    return [_bound_edit(value) for value in values]


def _bound_edit(bound: float) -> dict[str, Any]:
    return {"edited_rows": {0: {"bound": bound}}, "added_rows": [], "deleted_rows": []}


@dataclass(frozen=True, slots=True)
class Control:
    """A widget to move: found by key (glob patterns) first, else by partial label text (case-insensitive)."""

    name: str
    kind: str  # the AppTest element list: slider, number_input, selectbox, select_slider, checkbox, ...
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    values: Callable[[Any, int], list[Any]]


def find(at: Any, control: Control) -> Any | None:
    try:
        elements = list(getattr(at, control.kind))
    except Exception:  # an element kind this Streamlit's AppTest does not know
        return None
    for element in elements:
        key = getattr(element, "key", None) or ""
        if key and any(fnmatch.fnmatchcase(key, pattern) for pattern in control.keys):
            return element
    for element in elements:
        label = (getattr(element, "label", None) or "").lower()
        if any(part.lower() in label for part in control.labels):
            return element
    return None


def _model(key: str) -> Control:
    return Control("model select", "selectbox", (key, "*_model"), ("Model",), option_values)


_THRESHOLD = (
    Control("threshold slider", "slider", ("threshold_slider",), ("Threshold",), spread_values),
    Control("threshold box", "number_input", ("threshold_box",), ("Exact threshold",), spread_values),
)

CONTROLS: dict[str, tuple[Control, ...]] = {
    "home": (),
    "stakeholder": (Control("'Send ...' select_slider", "select_slider", ("stakeholder_level",), ("Send",),
                            option_values),),
    "data": (
        Control("drop-missing checkbox", "checkbox", ("drop_*",), ("Drop rows",), toggle_values),
        Control("score columns multiselect", "multiselect", ("scores_*",), ("Score columns",),
                chosen_subset_values),
        Control("positive class select", "selectbox", ("positive_*",), ("Positive class",), option_values),
        Control("weight select", "selectbox", ("weight_*",), ("Weight",), weight_values),
    ),
    "metrics": (*_THRESHOLD, _model("metrics_model")),
    "outcomes": (
        *_THRESHOLD, _model("outcomes_model"),
        Control("scenario: volume", "number_input", ("sc*_volume",), (" per ",), scaled_values),
        Control("scenario: capacity", "number_input", ("sc*_capacity",), ("Most ",), scaled_values),
        Control("scenario: minutes per action", "number_input", ("sc*_minutes",), ("Minutes per",), scaled_values),
        Control("scenario: cost per hour", "number_input", ("sc*_cost",), ("Cost per hour",), scaled_values),
        Control("scenario: worth of a false alarm", "number_input", ("sc*_false_alarm",), ("false alarm",),
                scaled_values),
        Control("scenario: worth of a caught", "number_input", ("sc*_caught",), ("caught",), scaled_values),
        Control("scenario: capacity limit toggle", "checkbox", ("sc*_capacity_on",), ("Capacity limit",),
                toggle_values),
        Control("scenario: name text", "text_input", ("sc*_name",), ("Name",), text_values),
    ),
    "status_quo": (*_THRESHOLD, _model("status_quo_model")),
    "criteria": (
        *_THRESHOLD, _model("criteria_model"),
        Control("'How sure must we be' slider", "slider", ("cr*_confidence",), ("How sure",), spread_values),
        Control("criteria table: first bound", "data_editor", ("cr*_table",), (), bound_values),
        Control("objective select", "selectbox", ("cr*_objective",), ("Objective",), option_values),
    ),
    "projects": (
        Control("compare runs multiselect", "multiselect", ("compare_runs",), ("Compare runs",), subset_values),
        Control("project select", "selectbox", ("projects_project",), ("Project",), option_values),
        Control("open-a-run select", "selectbox", ("open_run",), ("Open a run",), option_values),
    ),
    "progress": (Control("project select", "selectbox", ("progress_project",), ("Project",), option_values),),
    "portfolio": (),
}


def _original(element: Any, control: Control) -> Any:
    if control.kind == "data_editor":  # an empty edit state does not undo an edit: set the loaded bound again
        return _bound_edit(float(element.value["bound"].iloc[0]))
    return list(element.value) if control.kind == "multiselect" else element.value


def _set(at: Any, element: Any, control: Control, value: Any) -> None:
    if control.kind == "data_editor":
        at.session_state[element.key] = value
    else:
        element.set_value(value)


def _shown(value: Any, control: Control) -> str:
    if control.kind == "data_editor":
        return str(value["edited_rows"][0]["bound"])
    return str(value)


def move_control(at: Any, data: str, page: str, control: Control, moves: int, target: tuple[float, float]) -> Row:
    row = Row(data, page, control.name, target)
    element = find(at, control)
    if element is None:
        row.notes.append(f"not found (no {control.kind} with key {'/'.join(control.keys)} or label "
                         f"{'/'.join(repr(label) for label in control.labels) or '-'})")
        return row
    if getattr(element, "disabled", False):
        row.notes.append("disabled")
        return row
    original = _original(element, control)
    try:
        values = control.values(element, moves)
    except Exception as error:  # a widget whose value does not fit the generator (the app changed)
        row.notes.append(f"no values to move to: {error}")
        return row
    if not values:
        row.notes.append("only one possible value")
        return row
    distinct = len({json.dumps(value, sort_keys=True, default=str) for value in values})
    if distinct < len(values):
        row.notes.append(f"{distinct} distinct values: repeats may come from a cache")
    for value in values:
        element = find(at, control)
        if element is None:
            row.notes.append("gone after a move")
            break
        _set(at, element, control, value)
        wall, server = timed_run(at)
        row.add(wall, server, _shown(value, control))
        row.note_problems(at)
        if at.exception:
            break
    element = find(at, control)  # put it back (untimed) so the next control starts from the page's default
    if element is not None and not at.exception:
        _set(at, element, control, original)
        at.run()
    return row


# ----------------------------------------------------------------------------------------------------------------
# Sessions
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class BigFile:
    path: Path
    rows: int
    size_mb: float


def make_big_file(folder: Path, rows: int) -> BigFile:
    """label, score_a, score_b, amount, rule_flag: 1.6% positives, two models, today's amount rule; float32
    scores and amounts (as many models write them) keep the file under the default 200 MB upload cap."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    label = (rng.random(rows) < 0.016).astype(np.int64)
    score_a = np.clip(rng.normal(0.25 + 0.35 * label, 0.15), 0, 1).astype(np.float32)
    score_b = np.clip(rng.normal(0.3 + 0.2 * label, 0.18), 0, 1).astype(np.float32)
    amount = np.round(rng.lognormal(3.8 + 0.6 * label, 1.0), 2).astype(np.float32)
    rule_flag = ((amount > 250) | (rng.random(rows) < 0.01 + 0.2 * label)).astype(np.int64)
    path = folder / "big_predictions.parquet"
    pq.write_table(pa.table({"label": label, "score_a": score_a, "score_b": score_b, "amount": amount,
                             "rule_flag": rule_flag}), path)
    return BigFile(path, rows, path.stat().st_size / 2**20)


_GUESSED: list[str] = []  # the score columns the Data page guessed for the big file
_UPLOAD_COPIES: set[str] = set()


class SetupError(RuntimeError):
    """The session could not be brought to the state a page is measured in."""


def _check(at: Any, what: str) -> None:
    if at.exception:
        raise SetupError(f"{what}: {str(at.exception[0].value).splitlines()[0]}")


def _uploader(at: Any, label_part: str) -> Any:
    for uploader in at.get("file_uploader"):
        if label_part.lower() in (getattr(uploader, "label", None) or uploader.proto.label).lower():
            return uploader
    raise SetupError(f"no file uploader labelled like {label_part!r}")


def load_big(at: Any, big: BigFile, here: Checkout, timeout: float) -> tuple[float, float | None]:
    """Upload the big file on the Data page, then the demo's scenario and criteria files on their pages (the
    big file has the columns they name); the upload rerun's (wall, server) ms."""
    at.switch_page("pages/data.py").run(timeout=timeout)
    _check(at, "Data page")
    radio = next((r for r in at.radio if any("Upload" in str(o) for o in r.options)), None)
    if radio is None:
        raise SetupError("the Data page has no 'Upload a file' choice")
    radio.set_value(next(o for o in radio.options if "Upload" in str(o))).run(timeout=timeout)
    _uploader(at, "Predictions").set_value((big.path.name, big.path.read_bytes(), "application/octet-stream"))
    wall, server = timed_run(at)
    _check(at, "uploading the big file")
    if at.error:
        raise SetupError(f"the upload shows an error: {at.error[0].value}")
    scores = find(at, CONTROLS["data"][1])
    _GUESSED[:] = [str(s) for s in scores.value] if scores is not None else []
    with contextlib.suppress(Exception):  # where the app keeps its copy of the upload, to remove it at the end
        _UPLOAD_COPIES.add(str(at.session_state["mb_source"].path))
    at.switch_page("pages/outcomes.py").run(timeout=timeout)
    _check(at, "Outcomes page")
    scenario, criteria = here.scenario, here.criteria
    _uploader(at, "scenario").set_value((scenario.name, scenario.read_bytes(), "application/x-yaml")).run(
        timeout=timeout)
    _check(at, "loading the scenario file")
    at.switch_page("pages/criteria.py").run(timeout=timeout)
    _check(at, "Success criteria page")
    _uploader(at, "criteria").set_value((criteria.name, criteria.read_bytes(), "application/x-yaml")).run(
        timeout=timeout)
    _check(at, "loading the criteria file")
    at.switch_page("pages/home.py").run(timeout=timeout)
    _check(at, "Home page after loading")
    return wall, server


def new_session(here: Checkout, timeout: float, big: BigFile | None, threshold: float | None) -> Any:
    """A fresh AppTest session on Home (and the big file loaded, with ``big``)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(here.app), default_timeout=timeout)
    if threshold is not None:
        at.query_params["threshold"] = f"{threshold:.3f}"
    at.run()
    _check(at, "Home page")
    if big is not None:
        load_big(at, big, here, timeout)
    return at


def seed_database(path: Path, here: Checkout) -> None:
    """Two projects of saved demo runs (what Projects, Progress and Portfolio then show)."""
    from metricbridge.criteria import load_criteria
    from metricbridge.evaluate import evaluate_file
    from metricbridge.runs import save_report
    from metricbridge.scenario import load_scenario
    from metricbridge.store import Store

    store = Store(path)
    demo = here.demo
    report = evaluate_file(demo, scenario=load_scenario(here.scenario), criteria=load_criteria(here.criteria))
    # The pages pick the last project by default: the one with three saves (six runs) comes last by name and time.
    save_report(store, report, path=demo, file_name=demo.name, project="A first look", run_name="first")
    for week in (1, 2, 3):
        save_report(store, report, path=demo, file_name=demo.name, project="Fraud pilot", run_name=f"week {week}",
                    note=f"bench week {week}")
    store.save_card("Fraud pilot", problem="Too much fraud slips through.", stakeholders="Fraud ops",
                    stage="prototyping", stage_reason="benchmark seed")


def bench_pages(here: Checkout, data: str, pages: Sequence[str], *, moves: int, opens: int, timeout: float,
                big: BigFile | None) -> list[Row]:
    """First open and control moves of each page, one fresh session per page (and per extra open)."""
    target = INTERACTION_BIG if big is not None else INTERACTION
    rows: list[Row] = []
    for page in pages:
        log(f"{data}: {page}")
        first = Row(data, page, "first open", FIRST_OPEN)
        sessions = []
        for k in range(opens):
            threshold = None if k == 0 else round(0.2 + 0.05 * k + 0.01 * pages.index(page), 3)
            try:
                at = new_session(here, timeout, big, threshold)
            except SetupError as error:
                first.notes.append(f"session not set up: {error}")
                break
            at.switch_page(f"pages/{page}.py")
            wall, server = timed_run(at)
            first.add(wall, server, "default threshold" if threshold is None else f"?threshold={threshold}")
            first.note_problems(at)
            sessions.append(at)
        rows.append(first)
        if not sessions or sessions[0].exception:
            continue
        at = sessions[0]
        for control in CONTROLS.get(page, ()):
            log(f"{data}: {page}: {control.name}")
            rows.append(move_control(at, data, page, control, moves, target))
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Browser
# ----------------------------------------------------------------------------------------------------------------

_CAUGHT_JS = """() => {
  const metric = [...document.querySelectorAll('[data-testid="stMetric"]')].find(m => {
    const label = m.querySelector('[data-testid="stMetricLabel"]');
    return label && label.innerText.trim() === 'Caught';
  });
  const value = metric && metric.querySelector('[data-testid="stMetricValue"]');
  return value ? value.innerText.trim() : null;
}"""

# Visible: the "Caught" value has text and the ROC chart (the Vega chart whose x axis is the false-alarm rate)
# has drawn its SVG with at least one mark path, both with a non-empty box. A Streamlit exception box ends the wait.
_VISIBLE_JS = """() => {
  const failed = document.querySelector('[data-testid="stException"]');
  if (failed) { window.__mbError = failed.innerText.split('\\n')[0]; return true; }
  const caught = (READ_CAUGHT)();
  if (!caught) return false;
  const metric = [...document.querySelectorAll('[data-testid="stMetricValue"]')].find(
    e => e.innerText.trim() === caught);
  const box = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const roc = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].find(
    c => c.querySelector('[aria-label*="False-alarm rate"]'));
  const svg = roc && roc.querySelector('svg');
  if (!metric || !box(metric) || !svg || !box(svg) || !svg.querySelector('.role-mark path')) return false;
  window.__mbVisibleAt = window.__mbVisibleAt || performance.now();
  return true;
}""".replace("READ_CAUGHT", _CAUGHT_JS)

# Stamps the Enter keydown and, with a MutationObserver, the first change of the "Caught" value after it.
_WATCH_JS = """old => {
  window.__mbEnterAt = undefined; window.__mbChangedAt = undefined; window.__mbError = undefined;
  if (window.__mbObserver) window.__mbObserver.disconnect();
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter' && window.__mbEnterAt === undefined) window.__mbEnterAt = performance.now();
  }, {capture: true, once: true});
  const read = READ_CAUGHT;
  window.__mbObserver = new MutationObserver(() => {
    const failed = document.querySelector('[data-testid="stException"]');
    if (failed && window.__mbError === undefined) window.__mbError = failed.innerText.split('\\n')[0];
    const now = read();
    if (window.__mbEnterAt !== undefined && now && now !== old && window.__mbChangedAt === undefined) {
      window.__mbChangedAt = performance.now();
    }
  });
  window.__mbObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
}""".replace("READ_CAUGHT", _CAUGHT_JS)


class AppFailed(RuntimeError):
    """The page shows a Streamlit exception instead of its content."""


class SocketClock:
    """Stamps, on the page's Streamlit websocket, a rerun request sent and the next script_finished received."""

    def __init__(self) -> None:
        self.armed = False
        self.sent: float | None = None
        self.finished: float | None = None

    def arm(self) -> None:
        self.armed, self.sent, self.finished = True, None, None

    def attach(self, page: Any) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        def sent(payload: str | bytes) -> None:
            if self.armed and self.sent is None and isinstance(payload, bytes):
                with contextlib.suppress(Exception):  # a frame that is not a BackMsg is not ours to time
                    if BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
                        self.sent = time.perf_counter()

        def received(payload: str | bytes) -> None:
            if self.armed and self.sent is not None and self.finished is None and isinstance(payload, bytes):
                with contextlib.suppress(Exception):
                    if ForwardMsg.FromString(payload).WhichOneof("type") == "script_finished":
                        self.finished = time.perf_counter()

        def websocket(ws: Any) -> None:
            ws.on("framesent", sent)
            ws.on("framereceived", received)

        page.on("websocket", websocket)

    def wait(self, page: Any, timeout_s: float) -> float | None:
        """Ms from the rerun request to script_finished, waiting for the latter up to ``timeout_s``."""
        deadline = time.perf_counter() + timeout_s
        while self.finished is None and time.perf_counter() < deadline:
            page.wait_for_timeout(20)  # lets Playwright deliver the websocket events
        self.armed = False
        return None if self.sent is None or self.finished is None else 1000 * (self.finished - self.sent)


def _browser_threshold_values(current: float, n: int) -> list[float]:
    values: list[float] = []
    for fraction in (0.15, 0.35, 0.22, 0.45, 0.28, 0.6, 0.18, 0.4, 0.3, 0.52):
        if abs(fraction - current) > 0.02 and (not values or abs(fraction - values[-1]) > 0.02):
            values.append(fraction)
    return (values * (n // len(values) + 1))[:n]


@dataclass
class BrowserRows:
    cold: Row = field(default_factory=lambda: Row("demo", "metrics (browser)",
                                                  "time-to-visible: first load after server start", None))
    tab: Row = field(default_factory=lambda: Row("demo", "metrics (browser)",
                                                 "time-to-visible: new tab, file counted", FIRST_OPEN))
    click: Row = field(default_factory=lambda: Row("demo", "metrics (browser)",
                                                   "time-to-visible: sidebar click from Home", FIRST_OPEN))
    move: Row = field(default_factory=lambda: Row("demo", "metrics (browser)",
                                                  "threshold box + Enter -> 'Caught' changes", INTERACTION))
    socket: Row = field(default_factory=lambda: Row("demo", "metrics (browser)",
                                                    "  same moves: rerun sent -> script_finished (websocket)", None))

    def all(self) -> list[Row]:
        return [self.cold, self.tab, self.click, self.move, self.socket]


def _visible_ms(page: Any, timeout_ms: int) -> float:
    """performance.now() (ms since the navigation started) when the page first showed Caught and the ROC chart."""
    page.evaluate("() => { window.__mbVisibleAt = undefined; window.__mbError = undefined; }")
    page.wait_for_function(_VISIBLE_JS, polling="raf", timeout=timeout_ms)
    error = page.evaluate("window.__mbError")
    if error:
        raise AppFailed(str(error))
    return float(page.evaluate("window.__mbVisibleAt"))


def _browser_runs(chromium: Any, url: str, rows: BrowserRows, folder: Path, *, loads: int, moves: int,
                  timeout_s: float) -> str:
    """Fill ``rows``; the path of the screenshot taken after the threshold moves."""
    timeout = int(timeout_s * 1000)

    def new_tab() -> tuple[Any, Any]:
        context = chromium.new_context(viewport={"width": 1400, "height": 2200})
        page = context.new_page()
        page.set_default_timeout(timeout)
        return context, page

    for i in range(loads + 1):
        log(f"browser: load {i + 1} of {loads + 1}")
        context, page = new_tab()
        page.goto(f"{url}/metrics", wait_until="commit")
        (rows.cold if i == 0 else rows.tab).add(_visible_ms(page, timeout), None, "cold" if i == 0 else f"tab {i}")
        context.close()
    for i in range(loads):
        log(f"browser: sidebar click {i + 1} of {loads}")
        context, page = new_tab()
        page.goto(url)
        page.get_by_text("Loaded:").first.wait_for()
        _settle(page, timeout)
        page.evaluate("() => document.addEventListener('click', () => { window.__mbClickAt = performance.now(); },"
                      " {capture: true, once: true})")
        page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Metrics and threshold").first.click()
        visible = _visible_ms(page, timeout)
        rows.click.add(visible - float(page.evaluate("window.__mbClickAt")), None, f"tab {i + 1}")
        context.close()
    log("browser: threshold moves")
    context, page = new_tab()
    clock = SocketClock()
    clock.attach(page)
    page.goto(f"{url}/metrics")
    _visible_ms(page, timeout)
    _settle(page, timeout)
    box = page.get_by_label("Exact threshold")
    for value in _browser_threshold_values(float(box.input_value() or 0.5), moves):
        old = page.evaluate(_CAUGHT_JS)
        page.evaluate(_WATCH_JS, old)
        box.fill(f"{value:.3f}")
        clock.arm()
        box.press("Enter")
        try:
            page.wait_for_function("window.__mbChangedAt !== undefined || window.__mbError !== undefined",
                                   timeout=timeout)
        except Exception:  # Playwright's TimeoutError: say so in the row and go on with the next value
            rows.move.notes.append(f"'Caught' did not change at {value:.3f}")
            continue
        changed, entered, error = page.evaluate("[window.__mbChangedAt, window.__mbEnterAt, window.__mbError]")
        if error:
            raise AppFailed(str(error))
        rows.move.add(changed - entered, None, f"{value:.3f}: {old} -> {page.evaluate(_CAUGHT_JS)}")
        server = clock.wait(page, timeout_s)
        if server is None:
            rows.socket.notes.append(f"no rerun_script -> script_finished seen at {value:.3f}")
        else:
            rows.socket.add(server, None, f"{value:.3f}")
        _settle(page, timeout)
    shot = folder / "metrics_after_threshold_move.png"
    page.screenshot(path=str(shot))
    context.close()
    return str(shot)


def bench_browser(here: Checkout, folder: Path, *, loads: int, moves: int,
                  timeout_s: float) -> tuple[list[Row], dict[str, Any]]:
    """Time-to-visible of /metrics and threshold moves in headless Chromium against ``streamlit run app.py``."""
    sys.path.insert(0, str(here.root))
    from tests.browser import CHROMIUM_ARGS, chromium_path, streamlit_server

    extra: dict[str, Any] = {"waited_for": "the [data-testid=stMetric] labelled 'Caught' with a "
                             "[data-testid=stMetricValue] text, and the [data-testid=stVegaLiteChart] whose axis is "
                             "'False-alarm rate' with an <svg> holding a .role-mark path, both with a non-empty box"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        extra["skipped"] = "the playwright package is not installed"
        return [], extra
    browser_path = chromium_path()
    if browser_path is None:
        extra["skipped"] = "Chromium not found (apt-get install chromium)"
        return [], extra
    extra["chromium"] = browser_path
    rows = BrowserRows()
    env = {"METRICBRIDGE_DB": str(folder / "browser.duckdb")}
    with streamlit_server(folder / "streamlit.log", timeout=timeout_s, env=env) as url, \
            sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            extra["screenshot"] = _browser_runs(chromium, url, rows, folder, loads=loads, moves=moves,
                                                timeout_s=timeout_s)
        except AppFailed as error:
            failed = next((r for r in rows.all() if not r.wall_ms), rows.socket)
            failed.errored = True
            failed.notes.append(f"the page shows an exception: {str(error)[:70]}")
            extra["stopped"] = f"the app failed in the browser: {error}"
        finally:
            chromium.close()
    for row in rows.all():
        row.server_ms = []  # wall-clock figures in the page (or on the websocket), not AppTest's stamps
    return rows.all(), extra


def _settle(page: Any, timeout: int) -> None:
    """Until Streamlit has finished running the script (its status widget is gone), as tests/test_browser.py."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
    page.wait_for_timeout(300)


# ----------------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------------


def environment(load_at_start: list[float]) -> dict[str, Any]:
    import streamlit

    found: dict[str, Any] = {"python": platform.python_version(), "streamlit": streamlit.__version__,
                             "cpus": os.cpu_count(), "machine": platform.machine(),
                             "load_average_at_start": load_at_start,
                             "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        found["playwright"] = version("playwright")
    return found


def write_section(path: Path, text: str) -> str:
    """Replace the UI section of ``path`` (from its heading to its end line), or add it at the end; the other
    sections stay as they are. Returns what was done."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    section = text.rstrip("\n") + "\n" + SECTION_END + "\n"
    start = old.find("\n" + SECTION_START)
    start = 0 if old.startswith(SECTION_START) else (start + 1 if start >= 0 else -1)
    if start >= 0:
        end = old.find(SECTION_END, start)
        if end < 0:
            raise SystemExit(f"{path}: the UI section has no end line {SECTION_END!r}; fix the file by hand")
        end += len(SECTION_END)
        new = old[:start] + section.rstrip("\n") + old[end:]
        done = "replaced"
    else:
        new = old + ("" if not old or old.endswith("\n\n") else ("\n" if old.endswith("\n") else "\n\n")) + section
        done = "added"
    path.write_text(new, encoding="utf-8")
    return done


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Streamlit warns about a missing ScriptRunContext when its modules load outside a run; that is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from streamlit import config, logger

        previous = config.get_option("logger.level")
        config.set_option("logger.level", "error")  # AppTest sets the log level again from this option
        logger.set_log_level(logging.ERROR)
        try:
            yield
        finally:
            config.set_option("logger.level", previous)
            logger.set_log_level(str(previous))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", nargs="+", choices=PAGE_KEYS, default=list(PAGE_KEYS), metavar="KEY",
                        help=f"pages to measure (default all: {' '.join(PAGE_KEYS)})")
    parser.add_argument("--moves", type=int, default=5, help="moves of each control (default 5)")
    parser.add_argument("--opens", type=int, default=3, help="fresh sessions timing each page's first open")
    parser.add_argument("--big", action="store_true", help="also with a 10-million-row file uploaded")
    parser.add_argument("--big-rows", type=int, default=BIG_ROWS, help=argparse.SUPPRESS)
    parser.add_argument("--browser", action=argparse.BooleanOptionalAction, default=None,
                        help="the headless Chromium section (default: on when Chromium is found)")
    parser.add_argument("--browser-loads", type=int, default=3, help="page loads and sidebar clicks timed")
    parser.add_argument("--browser-moves", type=int, default=5, help="threshold moves timed in the browser")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds an AppTest run may take")
    parser.add_argument("--write", action="store_true", help="replace (or add) the UI section of results.txt")
    parser.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout whose app is measured (default this one), e.g. a `git archive HEAD` export")
    parser.add_argument("--label", help="how the heading names the app measured (default: its commit and "
                        "whether its working tree is changed)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the big file (and the app's copy of its upload) after the run")
    return parser.parse_args(argv)


def bench_demo(args: argparse.Namespace, here: Checkout, import_ms: float) -> list[Row]:
    """Counting (the first cold run of Home in this process), then every page on the demo."""
    from streamlit.testing.v1 import AppTest

    log("demo: counting (the first cold run of Home)")
    at = AppTest.from_file(str(here.app), default_timeout=args.timeout)
    counting = Row("demo", "home", "counting (first cold run)", None)
    counting.add(*timed_run(at), "cold")
    counting.note_problems(at)
    counting.notes.append(f"imports before it: {import_ms:,.0f} ms")
    return [counting, *bench_pages(here, "demo", args.pages, moves=args.moves, opens=args.opens,
                                   timeout=args.timeout, big=None)]


def bench_big(args: argparse.Namespace, here: Checkout, folder: Path) -> tuple[list[Row], dict[str, Any]]:
    """Every page again with a big file uploaded, if it fits the upload cap (the app's only way in)."""
    from streamlit import config

    log(f"big: writing {args.big_rows:,} rows")
    start = time.perf_counter()
    big = make_big_file(folder, args.big_rows)
    cap = float(config.get_option("server.maxUploadSize"))
    info: dict[str, Any] = {"rows": big.rows, "file_mb": round(big.size_mb, 1),
                            "write_s": round(time.perf_counter() - start, 1), "max_upload_mb": cap}
    label = f"{big.rows / 1e6:g}M rows"
    rows: list[Row] = []
    try:
        if big.size_mb > cap:
            info["skipped"] = (f"the file is {big.size_mb:.0f} MB, over server.maxUploadSize = {cap:.0f} MB, and the "
                               "app reads a user's own file only from an upload")
            return rows, info
        log("big: counting (upload on the Data page)")
        at = new_session(here, args.timeout, None, None)
        upload = Row(label, "data", f"counting (upload of {big.size_mb:.0f} MB)", None)
        upload.add(*load_big(at, big, here, args.timeout), "upload")
        upload.notes.append(f"scores guessed: {', '.join(_GUESSED) or '?'}; then the demo's scenario and criteria "
                            "files loaded")
        rows.append(upload)
        rows += bench_pages(here, label, args.pages, moves=args.moves, opens=args.opens, timeout=args.timeout,
                            big=big)
    except SetupError as error:
        info["skipped"] = f"could not load the big file in the app: {error}"
    finally:
        if not args.keep:
            for path in {big.path, *map(Path, _UPLOAD_COPIES)}:
                if path.suffix == big.path.suffix and path.is_file():
                    path.unlink()
    return rows, info


def checkout_state(here: Checkout) -> str:
    """The commit measured, and whether the working tree differs from it (read-only git calls)."""
    import subprocess

    def git(*command: str) -> str:
        return subprocess.run(["git", "-C", str(here.root), *command], capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line]
    except (OSError, subprocess.SubprocessError):
        return f"{here.root} (not a git checkout)"
    return f"{commit}" + (f" + {len(changed)} changed files in the working tree" if changed else " (clean)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="mb-bench-ui-"))
    os.environ["METRICBRIDGE_DB"] = str(folder / "bench.duckdb")  # never the user's own database
    here = Checkout(args.root.resolve())
    if not here.app.is_file():
        raise SystemExit(f"{here.app} not found: --root must be a checkout of metricbridge")
    sys.path.insert(0, str(here.root / "src"))  # its own package, here and in the browser's server
    os.environ["PYTHONPATH"] = os.pathsep.join([str(here.root / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    started = dt.datetime.now().astimezone()
    load_at_start = [round(x, 2) for x in os.getloadavg()]  # the machine is shared: say how busy it was
    state = args.label or checkout_state(here)
    notes: list[str] = []
    rows: list[Row] = []
    big_info: dict[str, Any] = {}
    with quiet():
        import_start = time.perf_counter()
        import metricbridge.ui  # noqa: F401  (imported first, so the first run times counting, not imports)

        import_ms = 1000 * (time.perf_counter() - import_start)
        clocked = install_clock()
        if not clocked:
            notes.append("AppTest's script runner could not be stamped: wall times of .run() are judged")
        log(f"seeding {os.environ['METRICBRIDGE_DB']}")
        seed_database(Path(os.environ["METRICBRIDGE_DB"]), here)
        rows += bench_demo(args, here, import_ms)
        if args.big:
            big_rows, big_info = bench_big(args, here, folder)
            rows += big_rows
            if "skipped" in big_info:
                notes.append(f"--big skipped: {big_info['skipped']}")

    browser_rows: list[Row] = []
    browser_info: dict[str, Any] = {}
    if args.browser if args.browser is not None else shutil.which("chromium") is not None:
        try:
            browser_rows, browser_info = bench_browser(here, folder, loads=args.browser_loads,
                                                       moves=args.browser_moves, timeout_s=args.timeout)
        except Exception as error:  # report and carry on: the AppTest figures stand on their own
            browser_info["skipped"] = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    else:
        browser_info["skipped"] = "not asked for" if args.browser is False else "Chromium not found"
    if browser_info.get("skipped"):
        notes.append(f"browser section skipped: {browser_info['skipped']}")
    if browser_info.get("stopped"):
        notes.append(f"browser section stopped early: {browser_info['stopped']}")

    wall_s = time.perf_counter() - _START
    env = environment(load_at_start) | {"checkout": state}
    all_rows = rows + browser_rows
    judged = [r for r in all_rows if r.passed is not None]
    heading = (f"{SECTION_START}: page opens and control moves in AppTest (server-side ms of a rerun), and the "
               "Metrics page in headless Chromium (ms in the page)\n"
               f"{started:%Y-%m-%d %H:%M}, app at {state}; {env['cpus']} cores (load "
               f"{env['load_average_at_start'][0]:.1f} at start, {env['load_average_at_end'][0]:.1f} at end); "
               f"moves per control: {args.moves}; first opens per page: {args.opens}")
    text = rows_table(heading, rows)
    if browser_rows:
        text += "\n" + rows_table(f"Browser: waited for {browser_info.get('waited_for', '')}", browser_rows)
    errors = sum(1 for r in all_rows if r.errored)
    text += (f"\n{sum(1 for r in judged if r.passed)} of {len(judged)} rows meet their target"
             + (f"; {errors} rows met an exception" if errors else "") + ". Targets: an interaction median <= "
             f"{INTERACTION[0]:.0f} ms and worst <= {INTERACTION[1]:.0f} ms (<= {INTERACTION_BIG[0]:.0f} ms with the "
             f"big file); a first open <= {FIRST_OPEN[0]:.0f} ms. Regenerate: .venv/bin/python "
             "benchmarks/bench_ui.py --big --write\n")
    text += "".join(f"Note: {note}\n" for note in notes)
    if browser_info.get("screenshot"):
        text += f"Screenshot after the threshold moves: {browser_info['screenshot']}\n"
    figures = {"environment": env, "settings": {"moves": args.moves, "opens": args.opens, "pages": args.pages,
                                                "server_side_clock": clocked, "big": args.big},
               "big": big_info, "browser": browser_info, "rows": [r.to_dict() for r in all_rows],
               "notes": notes, "wall_s": round(wall_s, 1)}
    line = json.dumps(figures)
    print(text)
    print(line)
    if args.write:
        done = write_section(args.results, text + "\n" + line)
        log(f"{done} the UI section of {args.results}")
    log(f"done in {wall_s:.0f} s; temp dir {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
