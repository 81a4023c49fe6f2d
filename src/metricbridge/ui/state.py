"""Shared state of the app (the data loaded, the column choices, the model and its threshold) and the
cached stages of the pipeline, each computed once on its real inputs:

1. counting (file, column choices, the scenario's columns): :func:`counted`;
2. the scenario's figures (arithmetic on the counts): :func:`report`;
3. the bootstrap of each model (started in the background as soon as the counts exist): :func:`bootstraps`;
4. the verdicts under the criteria (cheap functions of the bootstrap): :func:`judged`.

A page asks only for the stages it shows. Shared values live under session-state keys that no widget
owns (set with ``setdefault``), because Streamlit forgets a widget's key when its page is not shown.
Caches are keyed on the file's content hash with the path passed unhashed; their values are immutable,
so the caches hand out the same object instead of a copy.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from metricbridge import charts
from metricbridge.counts import ScoreCounts
from metricbridge.criteria import Criteria, load_criteria
from metricbridge.curve import ThresholdCurve, curve_from_counts
from metricbridge.digests import bytes_digest, file_digest
from metricbridge.errors import MetricBridgeError
from metricbridge.evaluate import EvaluationReport, evaluate_file, policy_threshold
from metricbridge.export import safe_csv
from metricbridge.judge import Choice, Resampled, choose, decision_columns, resampled, verdicts
from metricbridge.judge import bands as bands_of
from metricbridge.loading import FileOverview, Predictions, inspect_file, load_predictions
from metricbridge.loading.builders import quote
from metricbridge.loading.reading import TABLE
from metricbridge.monitor import MonitorReport, WindowedCounts, count_windows, monitor
from metricbridge.present import SharedCapacity, shared_capacity
from metricbridge.scenario import Scenario, load_scenario
from metricbridge.segments import SegmentReport, segment_label, segment_report
from metricbridge.segments import segment_counts as segment_counts_of
from metricbridge.sensitivity import CostRatioRange, capacity_value, cost_ratio_range, tornado
from metricbridge.sources.local import (
    evaluate_source,
    inspect_source,
    open_source,
    reads_in_place,
    source_digest,
)
from metricbridge.ui import background
from metricbridge.uncertainty import (
    DEFAULT_BAND_BINS,
    DEFAULT_RESAMPLES,
    Bootstrap,
    ProgressCallback,
    build_bootstrap,
    collapse,
)

SOURCE, CHOICES, THRESHOLDS, MODEL = "mb_source", "mb_choices", "mb_thresholds", "mb_model"
SCENARIOS, EDITS, CRITERIA, CRITERIA_ERROR, PRESET = (
    "mb_scenarios", "mb_edits", "mb_criteria", "mb_criteria_error", "mb_scenario_preset")
RESAMPLES, SEED, BAND_BINS = DEFAULT_RESAMPLES, 0, DEFAULT_BAND_BINS


@dataclass(frozen=True, slots=True)
class DemoSet:
    key: str
    title: str
    file: str
    scenario: str
    about: str
    drop_missing: bool = False  # the file holds rows whose labels have not arrived: evaluated without them

    @property
    def criteria(self) -> str:
        return self.scenario


DEMOS = {
    "fraud": DemoSet("fraud", "Card fraud review", "fraud_transactions.parquet", "demo_fraud.yaml",
                     "40,000 card transactions over eight weeks, two models (gradient boosting and logistic "
                     "regression) and the amount rule the fraud team uses today."),
    "tickets": DemoSet("tickets", "Support-ticket triage", "support_tickets.parquet", "demo_tickets.yaml",
                       "30,000 support tickets, a model that scores urgency and today's keyword rule."),
    "monitoring": DemoSet("monitoring", "Card fraud after launch", "fraud_monitoring.parquet", "demo_fraud.yaml",
                          "48,000 card transactions over the 12 weeks after the go decision: scores drift and "
                          "recall falls after week 8, the last two weeks' labels are still pending, and one "
                          "channel is served worse. See the Monitoring and Segments pages.", drop_missing=True),
}


@dataclass(frozen=True, slots=True)
class Source:
    """The file in use: a demo set or an upload, identified by its content hash."""

    name: str
    path: str
    digest: str
    demo: str | None = None
    run: str | None = None  # the saved run it was opened from


@dataclass(frozen=True, slots=True)
class Choices:
    """What the user picked on the Data page; None and () mean "guess"."""

    label: str | None = None
    scores: tuple[str, ...] = field(default_factory=tuple)
    positive: str | None = None
    weight: str | None = None
    id: str | None = None
    drop_missing: bool = False


@dataclass(frozen=True, slots=True)
class Agreement:
    """The criteria as loaded (the version agreed) and as being edited now."""

    loaded: Criteria
    current: Criteria


# -- the data in use ------------------------------------------------------------------------------------------

def demo_dir() -> Path:
    """The bundled demo data: $METRICBRIDGE_DEMO_DIR, else data/ of the source checkout."""
    configured = os.environ.get("METRICBRIDGE_DEMO_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "data"


def demo_source(key: str) -> Source | None:
    path = demo_dir() / DEMOS[key].file
    if not path.is_file():
        return None
    return Source(name=path.name, path=str(path), digest=_digest_of(str(path)), demo=key)


@functools.lru_cache(maxsize=16)
def _digest_of(path: str) -> str:
    return file_digest(path)  # a demo file is read once per server, not on every first visit


def open_in_place(path: str) -> Source:
    """A source read where it is (a folder of Parquet parts, a glob, DB.duckdb:TABLE, a large file): identified
    by its files' names, sizes and times, not by hashing its bytes. MetricBridgeError when it cannot be read."""
    text = path.strip()
    if not text:
        raise MetricBridgeError("Give the path of a Parquet file, a folder of Parquet parts, a glob or "
                                "DB.duckdb:TABLE.")
    source = Source(name=Path(text.rstrip("/")).name or text, path=text, digest=source_digest(text))
    overview(source)  # refuses what cannot be read, with the file and column named
    return source


def save_upload(name: str, content: bytes) -> Source:
    """Keep an upload on disk under its hash, so DuckDB reads it by path and reruns do not copy it again."""
    digest = bytes_digest(content)
    folder = Path(tempfile.gettempdir()) / "metricbridge-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:32]}{Path(name).suffix.lower()[:10]}"
    if not path.exists():
        path.write_bytes(content)
    return Source(name=name, path=str(path), digest=digest)


def init() -> None:
    """Defaults for the shared keys; the demo (or the one named in the URL) is loaded on a first visit."""
    if SOURCE not in st.session_state:
        wanted = st.query_params.get("demo", "fraud")
        st.session_state[SOURCE] = demo_source(wanted if wanted in DEMOS else "fraud")
    for key in (CHOICES, SCENARIOS, CRITERIA, THRESHOLDS):
        st.session_state.setdefault(key, {})
    st.session_state.setdefault(EDITS, 0)
    source = st.session_state[SOURCE]
    wanted_scenario = st.query_params.get("scenario")
    if wanted_scenario and "mb_scenario_from_url" not in st.session_state and source is not None:
        st.session_state["mb_scenario_from_url"] = wanted_scenario  # a shared link opens the same scenario
        path = demo_dir() / "scenarios" / f"{Path(wanted_scenario).name}.yaml"
        if path.is_file():
            st.session_state[SCENARIOS][source.digest] = load_scenario(path)
            st.session_state[PRESET] = path.stem
    if "mb_view_from_url" not in st.session_state:  # the model and threshold of a shared link, once
        st.session_state["mb_view_from_url"] = True
        model = st.query_params.get("model")
        if model:
            st.session_state[MODEL] = model
        try:
            threshold = float(st.query_params.get("threshold", ""))
        except ValueError:
            threshold = None
        if threshold is not None and source is not None:
            st.session_state["mb_threshold_from_url"] = threshold


def current_source() -> Source | None:
    source: Source | None = st.session_state.get(SOURCE)
    return source


def current_choices() -> Choices:
    source = current_source()
    if source is None:
        return Choices()
    default = Choices(drop_missing=DEMOS[source.demo].drop_missing) if source.demo in DEMOS else Choices()
    return st.session_state[CHOICES].get(source.digest, default)


def set_choices(choices: Choices) -> None:
    source = current_source()
    if source is not None and st.session_state[CHOICES].get(source.digest) != choices:
        st.session_state[CHOICES][source.digest] = choices


def sync_url() -> None:
    """Write the shared view state back into the URL (Streamlit clears it on a page switch)."""
    source = current_source()
    params = st.query_params
    if source is not None and source.demo:
        params["demo"] = source.demo
    elif "demo" in params:
        del params["demo"]
    if st.session_state.get(PRESET):
        params["scenario"] = st.session_state[PRESET]
    if source is not None and source.run:
        params["run"] = source.run[:12]
    elif "run" in params:
        del params["run"]
    model = st.session_state.get(MODEL)
    if model:
        params["model"] = model
    threshold = user_threshold(model) if model else None
    if threshold is not None:
        params["threshold"] = f"{threshold:.6g}"
    elif "threshold" in params and "mb_threshold_from_url" not in st.session_state:
        del params["threshold"]


# -- the scenario and the criteria ---------------------------------------------------------------------------

def presets() -> dict[str, Path]:
    """Ready scenarios by name: data/scenarios/*.yaml."""
    return _presets(str(demo_dir() / "scenarios"))


@functools.lru_cache(maxsize=4)
def _presets(folder: str) -> dict[str, Path]:
    found = {}
    for path in sorted(Path(folder).glob("*.yaml")) if Path(folder).is_dir() else []:
        try:
            found[load_scenario(path).name] = path
        except MetricBridgeError:
            continue  # a broken preset file is left out of the list, not a crash
    return found


def current_scenario() -> Scenario | None:
    """The scenario of the current data: edited, else the demo's own, else none yet."""
    source = current_source()
    if source is None:
        return None
    scenarios = st.session_state[SCENARIOS]
    if source.digest not in scenarios and source.demo:
        path = demo_dir() / "scenarios" / DEMOS[source.demo].scenario
        scenarios[source.digest] = load_scenario(path) if path.is_file() else None
    scenario: Scenario | None = scenarios.get(source.digest)
    return scenario


def set_scenario(scenario: Scenario | None, *, replace_editor: bool = False) -> None:
    """Keep the scenario for the current data; ``replace_editor`` resets the editor's widgets to it."""
    source = current_source()
    if source is not None:
        st.session_state[SCENARIOS][source.digest] = scenario
    if replace_editor:
        st.session_state[EDITS] += 1


def current_agreement() -> Agreement | None:
    """The criteria of the current data: edited, else the demo's own, else none yet."""
    source = current_source()
    if source is None:
        return None
    agreements = st.session_state[CRITERIA]
    if source.digest not in agreements and source.demo:
        path = demo_dir() / "criteria" / DEMOS[source.demo].criteria
        agreements[source.digest] = Agreement(load_criteria(path), load_criteria(path)) if path.is_file() else None
    agreement: Agreement | None = agreements.get(source.digest)
    return agreement


def set_criteria(criteria: Criteria | None, *, loaded: bool = False) -> None:
    """Keep criteria for the current data: as a newly loaded agreement, or as an edit of the loaded one."""
    source = current_source()
    if source is None:
        return
    agreement = current_agreement()
    if criteria is None:
        st.session_state[CRITERIA][source.digest] = None
    elif loaded or agreement is None:
        st.session_state[CRITERIA][source.digest] = Agreement(criteria, criteria)
        st.session_state[EDITS] += 1
    elif agreement.current != criteria:
        st.session_state[CRITERIA][source.digest] = Agreement(agreement.loaded, criteria)


# -- stage 1 and 2: counting, and the scenario's figures ------------------------------------------------------
# Caches hold immutable values and key on hashable inputs (file hash, choices, scenario, criteria) or on the
# identity of an earlier stage's cached value: a lookup costs a dict access, not Streamlit's hashing of
# dataclasses, and hands out the object itself, not a copy.

@functools.lru_cache(maxsize=8)
def _overview(digest: str, path: str, name: str) -> FileOverview:
    if reads_in_place(path):
        return inspect_source(path, name=name)  # type: ignore[no-any-return]
    return inspect_file(path, name=name)


def _load(path: str, **options: Any) -> Predictions:
    """The predictions of ``path``: loaded into memory (an upload, a demo), or read in place out of core (a
    folder of Parquet parts, a glob, a DuckDB table, a file over 1 GiB), checked alike."""
    return open_source(path, **options) if reads_in_place(path) else load_predictions(path, **options)


_ONCE: OrderedDict[Hashable, Any] = OrderedDict()
_ONCE_LOCKS: dict[Hashable, threading.Lock] = {}
_ONCE_GUARD = threading.Lock()
_ONCE_KEPT = 24


def _once(key: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per ``key`` across threads: a page asking for what the prefetch job is computing
    waits for it instead of computing it again beside it. The last _ONCE_KEPT results are kept; a failure is
    not (each caller gets it raised)."""
    with _ONCE_GUARD:
        if key in _ONCE:
            _ONCE.move_to_end(key)
            return _ONCE[key]
        lock = _ONCE_LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _ONCE_GUARD:
            if key in _ONCE:
                return _ONCE[key]
        value = compute()
        with _ONCE_GUARD:
            _ONCE[key] = value
            while len(_ONCE) > _ONCE_KEPT:
                _ONCE_LOCKS.pop(_ONCE.popitem(last=False)[0], None)
        return value


_CURSORS = threading.local()


def _loaded(path: str, name: str, choices: Choices, labels_pending: bool = False) -> Predictions:
    """The predictions of ``path`` under ``choices``, loaded once for the Segments and Monitoring pages' counts
    and checks (reading 10 million rows into DuckDB again took seconds each time), on a DuckDB cursor of this
    thread's own: the prefetch job and the page may read the same table at once, and a connection is not to be
    shared between threads."""
    loaded: Predictions = _once(("load", path, name, choices, labels_pending), lambda: _load(
        path, name=name, labels_pending=labels_pending, **asdict(choices)))
    mine = getattr(_CURSORS, "predictions", None)
    if mine is None:
        mine = _CURSORS.predictions = {}
    if id(loaded) not in mine or mine[id(loaded)][0] is not loaded:
        if len(mine) >= 8:
            mine.clear()
        table = replace(loaded.table, con=loaded.table.con.cursor())
        mine[id(loaded)] = (loaded, replace(loaded, table=table))
    return mine[id(loaded)][1]  # type: ignore[no-any-return]


def overview(source: Source) -> FileOverview:
    return _overview(source.digest, source.path, source.name)


def _count(path: str, name: str, choices: Choices, skeleton: Scenario | None,
           progress: ProgressCallback) -> EvaluationReport:
    # Counted once per file, column choice and scenario columns (the skeleton); a scenario edit is then
    # arithmetic (report.with_scenario) and a threshold move is report.at(): neither recounts.
    evaluate = evaluate_source if reads_in_place(path) else evaluate_file
    return evaluate(path, name=name, ask_threshold_for_margins=False, scenario=skeleton, threshold=None,
                         progress=progress, **asdict(choices))


def counted(source: Source, choices: Choices, scenario: Scenario | None) -> EvaluationReport:
    """Stage 1: every model of the source counted, with a progress bar while it runs (MetricBridgeError when
    the data cannot be used). Keyed on the columns the scenario names, not on its words: renaming it or a
    status quo counts nothing again."""
    skeleton = scenario.skeleton() if scenario else None
    work = functools.partial(_count, source.path, source.name, choices, skeleton)
    job = background.submit(("count", source.digest, choices, _columns_of(scenario)), work, pool="count")
    (result,) = background.wait([job], what=f"Counting scores in {source.name}")
    return result  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=32)
def _under(counted_report: EvaluationReport, scenario: Scenario | None) -> EvaluationReport:
    report = counted_report.with_scenario(scenario)
    thresholds, reasons = {}, {}
    for model in report.models:
        thresholds[model.name], reasons[model.name] = policy_threshold(report, model.name,
                                                                      ask_threshold_for_margins=False)
    return replace(report.at(thresholds), reasons=reasons)


def report(source: Source, choices: Choices) -> EvaluationReport:
    """Stage 2: the evaluation under the current scenario, every model at its default threshold before any
    criteria (the scenario's best, else 0.5, else the median score). No verdicts: see :func:`judged`."""
    scenario = current_scenario()
    return _under(counted(source, choices, scenario), scenario)


_CURVES: OrderedDict[tuple[tuple[str, ThresholdCurve], ...], pd.DataFrame] = OrderedDict()


@functools.lru_cache(maxsize=16)
def calibration(report: EvaluationReport) -> pd.DataFrame:
    """Every probability model's reliability table (``charts.calibration_frame``), once per report."""
    return charts.calibration_frame(report.models)


def curves(report: EvaluationReport, model: str | None = None) -> pd.DataFrame:
    """Every model's curve (or ``model``'s), downsampled for drawing (``charts.curves_frame``), made once per
    counting (the key holds the curves themselves, so a later report at other thresholds finds it)."""
    models = [m for m in report.models if model is None or m.name == model]
    key = tuple((m.name, m.curve) for m in models)
    if key not in _CURVES:
        _CURVES[key] = charts.curves_frame(models)
        while len(_CURVES) > 16:
            _CURVES.popitem(last=False)
    return _CURVES[key]


# -- stage 3 and 4: the bootstrap and the verdicts ---------------------------------------------------------

def _columns_of(scenario: Scenario | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What of a scenario changes the counts: the value columns summed and the decision columns counted."""
    return (tuple(sorted(scenario.value_columns)), tuple(sorted(scenario.status_quo_columns))) if scenario \
        else ((), ())


def _bootstrap_key(source: Source, choices: Choices, scenario: Scenario | None, model: str) -> tuple:
    return ("bootstrap", source.digest, choices, _columns_of(scenario), model, RESAMPLES, SEED, BAND_BINS)


def bootstrap_jobs(base: EvaluationReport, models: list[str] | None = None) -> dict[str, background.Job]:
    """The bootstrap of each model (or of ``models``), started in the background if it is not running yet."""
    source, choices, scenario = current_source(), current_choices(), current_scenario()
    jobs: dict[str, background.Job] = {}
    if source is None:
        return jobs
    for model in base.models:
        if models is None or model.name in models:
            work = functools.partial(_draw, model.counts, tuple(base.decisions))
            jobs[model.name] = background.submit(_bootstrap_key(source, choices, scenario, model.name), work)
    return jobs


def _draw(counts: ScoreCounts, decisions: tuple[str, ...], progress: ProgressCallback) -> Bootstrap:
    return build_bootstrap(counts, decisions=decisions, resamples=RESAMPLES, seed=SEED, bins=BAND_BINS,
                           progress=progress)


def start_bootstraps(base: EvaluationReport) -> None:
    """Start the bootstraps as soon as the counts exist, when there are criteria to judge."""
    if current_agreement() is not None:
        bootstrap_jobs(base)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Chosen:
    """A model's threshold chosen against the criteria, with its bootstrap under the scenario: what the
    threshold policy and the bands need. Verdicts at a threshold are one step further (:func:`judged`)."""

    model: str
    criteria: Criteria
    choice: Choice
    figures: Resampled


def verdicts_ready(base: EvaluationReport, model: str) -> bool:
    """Whether ``model``'s choice and verdicts can be had without waiting."""
    if current_agreement() is None:
        return True
    return all(job.done for job in bootstrap_jobs(base, [model]).values())


@functools.lru_cache(maxsize=64)
def _chosen(scenario: Scenario | None, criteria: Criteria, model: str, bootstrap: Bootstrap) -> Chosen:
    figures = resampled(bootstrap, scenario)
    return Chosen(model=model, criteria=criteria, choice=choose(figures, criteria), figures=figures)


def chosen(base: EvaluationReport, model: str, *, wait: bool = True) -> Chosen | None:
    """Stage 4: ``model``'s threshold chosen against the current criteria (waiting for its bootstrap with a
    progress bar, or None when ``wait`` is False and it is not ready). None when there are no criteria or they
    cannot be judged under this scenario (the reason is kept for the criteria page)."""
    agreement = current_agreement()
    st.session_state[CRITERIA_ERROR] = None
    if agreement is None or current_source() is None:
        return None
    jobs = list(bootstrap_jobs(base, [model]).values())
    if not wait and not all(job.done for job in jobs):
        return None
    try:
        (bootstrap,) = background.wait(jobs, what="Bootstrapping the verdicts")
        return _chosen(base.scenario.numbers() if base.scenario else None, agreement.current, model, bootstrap)
    except MetricBridgeError as error:
        st.session_state[CRITERIA_ERROR] = str(error)
        return None


@functools.lru_cache(maxsize=64)
def _judged(base: EvaluationReport, made: Chosen, threshold: float) -> EvaluationReport:
    result = verdicts(made.figures, made.criteria, threshold=threshold, choice=made.choice)
    return replace(base.at({made.model: threshold}, reason=""), verdicts=base.verdicts | {made.model: result},
                   bootstraps=base.bootstraps | {made.model: made.figures.bootstrap})


def judged(base: EvaluationReport, model: str, *, threshold: Threshold) -> EvaluationReport:
    """Stage 5: ``base`` with ``model``'s verdicts at the threshold in force (waiting for the bootstrap);
    ``base`` itself when there are no criteria or they cannot be judged."""
    made = chosen(base, model)
    if made is None:
        return base
    at = threshold.value if not threshold.provisional else (made.choice.threshold or threshold.value)
    return _judged(base, made, at)


@functools.lru_cache(maxsize=64)
def _bands(made: Chosen, figures: tuple[str, ...], max_points: int) -> pd.DataFrame:
    return bands_of(made.figures, made.criteria.confidence, max_points=max_points, names=figures)


def bands(made: Chosen | None, *, figures: tuple[str, ...], max_points: int = 500) -> pd.DataFrame | None:
    """The bootstrap band of ``figures`` (None without a choice), at most ``max_points`` thresholds; the same
    frame for the same data, scenario and criteria."""
    return _bands(made, figures, max_points) if made is not None else None


@functools.lru_cache(maxsize=128)
def view(make: Callable[[EvaluationReport, str], pd.DataFrame], report: EvaluationReport, model: str) -> pd.DataFrame:
    """``make(report, model)`` (one of metricbridge.views' tables) once per report: a threshold move or a
    rerun finds it (pass the stage's report, not a copy at another threshold)."""
    return make(report, model)


@functools.lru_cache(maxsize=32)
def sensitivity(report: EvaluationReport, model: str) -> tuple[pd.DataFrame, CostRatioRange | None, float | None]:
    """Which assumption matters for ``model`` under the report's scenario (the tornado, the cost-ratio range
    of the best threshold, the worth of one more action): kept per report (data and scenario)."""
    curve, scenario = report.model(model).curve, report.scenario
    if scenario is None:
        raise ValueError("sensitivity needs a report with a scenario")
    return (tornado(curve, scenario), cost_ratio_range(curve, scenario, index=report.outcomes[model].best_index),
            capacity_value(curve, scenario))


# -- the model and its threshold -------------------------------------------------------------------------------

def current_model(report: EvaluationReport) -> str:
    """The model every page details: the one picked (kept across pages and in the link), else the first."""
    names = [m.name for m in report.models]
    picked = st.session_state.get(MODEL)
    return picked if picked in names else names[0]


def set_model(name: str) -> None:
    st.session_state[MODEL] = name


def user_threshold(model: str) -> float | None:
    """The threshold the user set for ``model`` on this data (a slider, a box, a link), if any."""
    source = current_source()
    if source is None:
        return None
    value: float | None = st.session_state[THRESHOLDS].get((source.digest, model))
    if value is None and st.session_state.get("mb_threshold_from_url") is not None:
        if st.session_state.get(MODEL) in (None, model):  # a link's threshold belongs to its model
            value = float(st.session_state.pop("mb_threshold_from_url"))
            st.session_state[THRESHOLDS][(source.digest, model)] = value
    return value


def set_threshold(model: str, value: float) -> None:
    source = current_source()
    if source is not None:
        st.session_state[THRESHOLDS][(source.digest, model)] = float(value)


@dataclass(frozen=True, slots=True)
class Threshold:
    """The threshold a page shows a model at, why, and whether it may still move: ``provisional`` while
    the threshold chosen against the criteria is being computed."""

    value: float
    reason: str
    provisional: bool = False


def threshold_for(base: EvaluationReport, model: str) -> Threshold:
    """The one threshold policy of the app, as the command line's: set by the user; else chosen against the
    criteria (once the bootstrap is done: until then the scenario's best, marked provisional); else the
    scenario's best; else 0.5; else the median score."""
    set_by_user = user_threshold(model)
    if set_by_user is not None:
        return Threshold(set_by_user, "set here")
    if current_agreement() is not None:
        if not verdicts_ready(base, model):
            return Threshold(base.model(model).threshold, base.reasons.get(model, ""), provisional=True)
        made = chosen(base, model, wait=False)
        if made is not None and made.choice.threshold is not None:
            reason = "chosen against the criteria" if made.choice.chosen is not None else \
                "the closest to meeting the criteria"
            return Threshold(made.choice.threshold, reason)
    return Threshold(base.model(model).threshold, base.reasons.get(model, ""))


# -- downloads ---------------------------------------------------------------------------------------------

def worklist(source: Source, model: str, threshold: float) -> Callable[[], bytes]:
    """What makes the work list of ``model`` at ``threshold`` (formula-safe CSV, highest score first) when its
    download button is pressed; it runs outside the script, so it reads no session state."""
    return functools.partial(_worklist, source.path, source.name, current_choices(), model, threshold)


def _worklist(path: str, name: str, choices: Choices, model: str, threshold: float) -> bytes:
    options = asdict(choices)
    options["scores"] = [model]
    return safe_csv(_load(path, name=name, **options).flagged(model, threshold))


# -- segments ----------------------------------------------------------------------------------------------

MAX_SEGMENTS = 50  # more values than this make no segments a person reads: an id, a score, a timestamp


def segment_columns(source: Source, report: EvaluationReport) -> list[str]:
    """Columns that can split the items into segments: the file's columns that are not label, score, weight
    or id, not floating-point or time, with at most MAX_SEGMENTS values (so not an id nobody declared)."""
    return list(_groupable(source.path, source.name, current_choices(), _segment_candidates(report)))


def _segment_candidates(report: EvaluationReport) -> tuple[str, ...]:
    data = report.data
    used = {data.label, *data.scores, data.weight, data.id}
    return tuple(c for c in data.columns if c not in used and not data.types.get(c, "").startswith(
        ("DOUBLE", "FLOAT", "DECIMAL", "TIMESTAMP", "DATE", "TIME")))


def _groupable(path: str, name: str, choices: Choices, candidates: tuple[str, ...]) -> tuple[str, ...]:
    if not candidates:
        return ()
    return _once(("groupable", path, name, choices, candidates),  # type: ignore[no-any-return]
                 lambda: _find_groupable(path, name, choices, candidates))


def _find_groupable(path: str, name: str, choices: Choices, candidates: tuple[str, ...]) -> tuple[str, ...]:
    predictions = _loaded(path, name, choices)
    sql = ", ".join(f"approx_count_distinct({quote(c)})" for c in candidates)
    found = predictions.table.con.execute(f"SELECT {sql} FROM {TABLE}").fetchone() or ()
    return tuple(c for c, values in zip(candidates, found, strict=True) if 1 < int(values) <= MAX_SEGMENTS)


def _segment_counts(path: str, name: str, choices: Choices, model: str, column: str,
                    columns: tuple[tuple[str, ...], tuple[str, ...]]) -> ScoreCounts:
    return _once(("segment counts", path, name, choices, model, column, columns),  # type: ignore[no-any-return]
                 lambda: _count_segments(path, name, choices, model, column, columns))


def _count_segments(path: str, name: str, choices: Choices, model: str, column: str,
                    columns: tuple[tuple[str, ...], tuple[str, ...]]) -> ScoreCounts:
    predictions = _loaded(path, name, choices)
    predictions.require_column(column, "segment")
    distinct = predictions.table.con.execute(f"SELECT count(DISTINCT {quote(column)}) FROM {TABLE}").fetchone()
    if distinct is not None and int(distinct[0]) > MAX_SEGMENTS:
        raise MetricBridgeError(f"{predictions.file}: column {column!r} holds {int(distinct[0]):,} values, more than "
                                f"{MAX_SEGMENTS} segments: choose a column of groups (a channel, a region).")
    sums, decisions = columns
    return predictions.counts(model, keys=[column], sums=sums, decisions=decisions)


def segment_counts(source: Source, model: str, column: str) -> ScoreCounts:
    """``model``'s counts keyed by ``column`` (and the scenario's decision columns), counted once per inputs."""
    scenario = current_scenario()
    columns = (tuple(scenario.value_columns), tuple(decision_columns(scenario))) if scenario else ((), ())
    return _segment_counts(source.path, source.name, current_choices(), model, column, columns)


@functools.lru_cache(maxsize=64)
def _segment_figures(counts: ScoreCounts, column: str, threshold: float) -> pd.DataFrame:
    rows = []
    # the cells collapsed to flagged and not first: the figures at one threshold need no more, and each
    # segment's curve is then a handful of cells instead of thousands
    for segment, part in segment_counts_of(collapse(counts, threshold), column).items():
        figures = curve_from_counts(part).at(threshold)
        rows.append({"segment": segment_label(segment), "status": "judging", "rows": part.n_rows,
                     "positives": int(part.rows[part.labels == 1].sum()),
                     **{k: figures[k] for k in ("recall", "precision", "flag_rate")}})
    return pd.DataFrame(rows)


def segment_figures(source: Source, model: str, column: str, threshold: float) -> pd.DataFrame:
    """Each segment's figures at ``threshold``, at once (no intervals, no verdicts): what the Segments page
    shows while :func:`segments_job` judges them."""
    return _segment_figures(segment_counts(source, model, column), column, float(threshold))


def _judge_segments(counts: ScoreCounts, column: str, threshold: float, scenario: Scenario | None,
                    criteria: Criteria | None, progress: ProgressCallback) -> SegmentReport:
    return segment_report(counts, column, threshold=threshold, criteria=criteria, scenario=scenario,
                          resamples=RESAMPLES, seed=SEED, progress=progress)


@functools.lru_cache(maxsize=16)
def _shared_capacity(counts: ScoreCounts, column: str, threshold: float, scenario: Scenario | None) -> SharedCapacity:
    return shared_capacity(counts, column, scenario=scenario, threshold=threshold)


def capacity_plan_for(source: Source, report: EvaluationReport, model: str, column: str,
                      threshold: float) -> SharedCapacity:
    """One threshold per segment under the shared capacity, against ``threshold`` for all (arithmetic on the
    segment counts, no bootstrap; as ``metricbridge segments --per-segment-thresholds`` prints it)."""
    return _shared_capacity(segment_counts(source, model, column), column, float(threshold), report.scenario)


def segments_job(source: Source, report: EvaluationReport, model: str, column: str,
                 threshold: float) -> background.Job:
    """Every segment of ``column`` judged at the model's threshold under the current scenario and criteria, in
    the background (a bootstrap per segment), started once per inputs."""
    agreement = current_agreement()
    criteria = agreement.current if agreement else None
    counts = segment_counts(source, model, column)
    work = functools.partial(_judge_segments, counts, column, float(threshold), report.scenario, criteria)
    return background.submit(("segments", source.digest, current_choices(), model, column, float(threshold),
                              report.scenario, criteria), work)


SEGMENT_COLUMN = "mb_segment_column"  # the column last picked on the Segments page, for the stakeholder page


def worst_segment(source: Source, report: EvaluationReport, model: str, threshold: float) -> str | None:
    """A sentence naming the worst segment when one fails the agreed criteria (of the column last picked on the
    Segments page, else the first column of groups), or None: none fails, or no criteria. Waits for the
    judging with a progress bar: call it after the rest of the page is drawn."""
    if current_agreement() is None:
        return None
    columns = segment_columns(source, report)
    column = st.session_state.get(SEGMENT_COLUMN)
    column = column if column in columns else (columns[0] if columns else None)
    if column is None:
        return None
    try:
        judged = segments(source, report, model, column, threshold)
    except MetricBridgeError:
        return None  # the Segments page says why
    return judged.headline()


def segments(source: Source, report: EvaluationReport, model: str, column: str, threshold: float) -> SegmentReport:
    """Every segment of ``column`` at the model's threshold, under the current scenario and criteria, waiting for
    it with a progress bar."""
    (result,) = background.wait([segments_job(source, report, model, column, threshold)],
                                what=f"Judging each value of {column}")
    return result  # type: ignore[no-any-return]


# -- monitoring --------------------------------------------------------------------------------------------

_TIME_TYPES = ("DATE", "TIMESTAMP")


def time_columns(source: Source, report: EvaluationReport) -> list[str]:
    """Columns that can place the items in time: dates and timestamps, and text columns whose values all read
    as dates (2024-03-04, 2024-03-04 13:45)."""
    typed, text = _time_candidates(report)
    return [*typed, *_dated(source.path, source.name, current_choices(), text)]


def _time_candidates(report: EvaluationReport) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The date and timestamp columns, and the text columns that may hold dates."""
    data = report.data
    used = {data.label, *data.scores, data.weight, data.id}
    typed = tuple(c for c in data.columns if c not in used and data.types.get(c, "").startswith(_TIME_TYPES))
    text = tuple(c for c in data.columns if c not in used and data.types.get(c, "") == "VARCHAR")
    return typed, text


def _dated(path: str, name: str, choices: Choices, candidates: tuple[str, ...]) -> tuple[str, ...]:
    if not candidates:
        return ()
    return _once(("dated", path, name, choices, candidates),  # type: ignore[no-any-return]
                 lambda: _find_dated(path, name, choices, candidates))


def _find_dated(path: str, name: str, choices: Choices, candidates: tuple[str, ...]) -> tuple[str, ...]:
    predictions = _loaded(path, name, choices, labels_pending=True)
    sql = ", ".join(f"count_if({quote(c)} IS NOT NULL AND TRY_CAST({quote(c)} AS TIMESTAMP) IS NULL) = 0 AND "
                    f"count({quote(c)}) > 0" for c in candidates)
    found = predictions.table.con.execute(f"SELECT {sql} FROM {TABLE}").fetchone() or ()
    return tuple(c for c, dated in zip(candidates, found, strict=True) if dated)


@dataclass(frozen=True, slots=True)
class MonitorRequest:
    """What a monitoring run depends on: the model, the time column and window, the agreed threshold, the
    first labelled windows that make the reference."""

    model: str
    time: str
    window: str
    threshold: float
    reference_windows: int = 4
    reference_file: str | None = None  # a labelled file to compare with instead (a saved run's rows)
    reference_name: str = "the given reference"


def _windowed(path: str, name: str, choices: Choices, request: MonitorRequest, scenario: Scenario | None,
              progress: ProgressCallback) -> WindowedCounts:
    """The windows counted once per (file, choices, model, time, window, scenario's columns): a new threshold or
    reference judges them again without a new pass over the rows."""
    sums, decisions = tuple(scenario.value_columns) if scenario else (), tuple(decision_columns(scenario))

    def count() -> WindowedCounts:
        predictions = _loaded(path, name, choices, labels_pending=True)
        return count_windows(predictions, request.model, request.time, request.window, sums=sums,
                             decisions=decisions, progress=lambda fraction, what: progress(0.2 * fraction, what))

    return _once(("windows", path, name, choices, request.model, request.time, request.window, sums,  # type: ignore[no-any-return]
                  decisions), count)


def _reference(choices: Choices, request: MonitorRequest) -> ScoreCounts | None:
    if request.reference_file is None:
        return None
    predictions = _load(request.reference_file, name="the reference run's rows", label=choices.label,
                                   scores=[request.model], positive=choices.positive, weight=choices.weight,
                                   drop_missing=choices.drop_missing)
    return predictions.counts(request.model)


def _monitored(path: str, name: str, choices: Choices, request: MonitorRequest, scenario: Scenario | None,
               criteria: Criteria | None, progress: ProgressCallback) -> MonitorReport:
    windowed = _windowed(path, name, choices, request, scenario, progress)
    return monitor(windowed.counts, "window", threshold=request.threshold, reference=_reference(choices, request),
                   reference_name=request.reference_name,
                   labelled=lambda w: w in windowed.labelled, criteria=criteria, scenario=scenario,
                   reference_windows=request.reference_windows, resamples=RESAMPLES, seed=SEED, name=windowed.name,
                   progress=lambda fraction, what: progress(0.2 + 0.8 * fraction, what))


def monitoring_job(source: Source, request: MonitorRequest) -> background.Job:
    """The windows of ``request`` counted and judged in the background (each labelled window's bootstrap takes
    a moment), under the current scenario and criteria; started once per inputs."""
    scenario, agreement = current_scenario(), current_agreement()
    criteria = agreement.current if agreement else None
    choices = current_choices()
    work = functools.partial(_monitored, source.path, source.name, choices, request, scenario, criteria)
    return background.submit(("monitor", source.digest, choices, request, scenario, criteria), work)


def monitoring(source: Source, request: MonitorRequest) -> MonitorReport:
    """The monitoring report of ``request``, waiting for it with a progress bar (MetricBridgeError when the
    time column or the windows cannot be used)."""
    (result,) = background.wait([monitoring_job(source, request)], what="Judging each window")
    return result  # type: ignore[no-any-return]


# -- prefetch ------------------------------------------------------------------------------------------------

def prefetch(source: Source, report: EvaluationReport) -> None:
    """Once the file is counted, start the passes the Segments and Monitoring pages open with (the counts keyed
    by the first column of groups, the first time column's weeks) on a worker of their own, so a page opened a
    few seconds later finds them done. A page that asks before they are done waits for the same computation
    (:func:`_once`), never a second one beside it."""
    scenario = current_scenario()
    choices, model = current_choices(), current_model(report)
    columns = (tuple(scenario.value_columns), tuple(decision_columns(scenario))) if scenario else ((), ())
    remembered = st.session_state.get(SEGMENT_COLUMN)
    work = functools.partial(_prefetch, source.path, source.name, choices, model, _segment_candidates(report),
                             remembered, _time_candidates(report), scenario, columns)
    background.submit(("prefetch", source.digest, choices, model, columns, remembered), work, pool="prefetch")


def _prefetch(path: str, name: str, choices: Choices, model: str, candidates: tuple[str, ...],
              remembered: str | None, times: tuple[tuple[str, ...], tuple[str, ...]], scenario: Scenario | None,
              columns: tuple[tuple[str, ...], tuple[str, ...]], progress: ProgressCallback) -> None:
    groupable = _groupable(path, name, choices, candidates)
    if groupable:
        column = remembered if remembered in groupable else groupable[0]
        _segment_counts(path, name, choices, model, column, columns)
    typed, text = times
    dated = [*typed, *_dated(path, name, choices, text)]
    if dated:
        request = MonitorRequest(model=model, time=dated[0], window="week", threshold=0.0)
        _windowed(path, name, choices, request, scenario, progress)
