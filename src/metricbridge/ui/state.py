"""Shared state of the app: which data is loaded, the column choices, the threshold; and cached work.

Shared values live under session-state keys that no widget owns (set with ``setdefault``), because
Streamlit forgets a widget's key when its page is not shown. Caches are keyed on the file's content hash
(``st.cache_data`` would hash a large frame from a sample of its rows) with the path passed unhashed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import streamlit as st

from metricbridge.criteria import Criteria, criteria_to_yaml, load_criteria
from metricbridge.errors import MetricBridgeError
from metricbridge.evaluate import EvaluationReport, evaluate_file
from metricbridge.export import safe_csv
from metricbridge.loading import FileOverview, inspect_file, load_predictions
from metricbridge.scenario import Scenario, load_scenario, scenario_to_yaml

SOURCE, CHOICES, THRESHOLD, SCENARIOS, EDITS = "mb_source", "mb_choices", "mb_threshold", "mb_scenarios", "mb_edits"
CRITERIA, CRITERIA_ERROR, PRESET = "mb_criteria", "mb_criteria_error", "mb_scenario_preset"


@dataclass(frozen=True, slots=True)
class DemoSet:
    key: str
    title: str
    file: str
    scenario: str
    about: str

    @property
    def criteria(self) -> str:
        return self.scenario


DEMOS = {
    "fraud": DemoSet("fraud", "Card fraud review", "fraud_transactions.parquet", "demo_fraud.yaml",
                     "40,000 card transactions over eight weeks, two models (gradient boosting and logistic "
                     "regression) and the amount rule the fraud team uses today."),
    "tickets": DemoSet("tickets", "Support-ticket triage", "support_tickets.parquet", "demo_tickets.yaml",
                       "30,000 support tickets, a model that scores urgency and today's keyword rule."),
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


def demo_dir() -> Path:
    """The bundled demo data: $METRICBRIDGE_DEMO_DIR, else data/ of the source checkout."""
    configured = os.environ.get("METRICBRIDGE_DEMO_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "data"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def demo_source(key: str) -> Source | None:
    path = demo_dir() / DEMOS[key].file
    if not path.is_file():
        return None
    return Source(name=path.name, path=str(path), digest=_digest(path), demo=key)


def save_upload(name: str, content: bytes) -> Source:
    """Keep an upload on disk under its hash, so DuckDB reads it by path and reruns do not copy it again."""
    digest = hashlib.sha256(content).hexdigest()
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
    st.session_state.setdefault(CHOICES, {})
    st.session_state.setdefault(SCENARIOS, {})
    st.session_state.setdefault(CRITERIA, {})
    st.session_state.setdefault(EDITS, 0)
    wanted_scenario = st.query_params.get("scenario")
    source = st.session_state[SOURCE]
    if wanted_scenario and "mb_scenario_from_url" not in st.session_state and source is not None:
        st.session_state["mb_scenario_from_url"] = wanted_scenario  # a shared link opens the same scenario
        path = demo_dir() / "scenarios" / f"{Path(wanted_scenario).name}.yaml"
        if path.is_file():
            st.session_state.setdefault(SCENARIOS, {})[source.digest] = load_scenario(path)
            st.session_state[PRESET] = path.stem
    if THRESHOLD not in st.session_state:
        try:
            st.session_state[THRESHOLD] = float(st.query_params.get("threshold", ""))
        except ValueError:
            st.session_state[THRESHOLD] = None


def current_source() -> Source | None:
    source: Source | None = st.session_state.get(SOURCE)
    return source


def current_choices() -> Choices:
    source = current_source()
    return st.session_state[CHOICES].get(source.digest, Choices()) if source else Choices()


def set_choices(choices: Choices) -> None:
    source = current_source()
    if source is not None and st.session_state[CHOICES].get(source.digest) != choices:
        st.session_state[CHOICES][source.digest] = choices


def set_threshold(value: float | None) -> None:
    st.session_state[THRESHOLD] = value
    if value is not None:
        st.query_params["threshold"] = f"{value:.6g}"


def sync_url() -> None:
    """Write the shared view state back into the URL (Streamlit clears it on a page switch)."""
    source = current_source()
    if source is not None and source.demo:
        st.query_params["demo"] = source.demo
    elif "demo" in st.query_params:
        del st.query_params["demo"]
    if st.session_state.get(THRESHOLD) is not None:
        st.query_params["threshold"] = f"{st.session_state[THRESHOLD]:.6g}"
    if st.session_state.get(PRESET):
        st.query_params["scenario"] = st.session_state[PRESET]
    if source is not None and source.run:
        st.query_params["run"] = source.run[:12]
    elif "run" in st.query_params:
        del st.query_params["run"]


@st.cache_data(show_spinner=False, max_entries=32)
def _overview(digest: str, _path: str, name: str) -> FileOverview:
    return inspect_file(_path, name=name)


def presets() -> dict[str, Path]:
    """Ready scenarios by name: data/scenarios/*.yaml."""
    folder = demo_dir() / "scenarios"
    found = {}
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
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


@dataclass(frozen=True, slots=True)
class Agreement:
    """The criteria as loaded (the version agreed) and as being edited now."""

    loaded: Criteria
    current: Criteria


@st.cache_data(show_spinner=False, max_entries=8)
def _worklist(digest: str, _path: str, name: str, choices: Choices, model: str, threshold: float) -> bytes:
    options = asdict(choices)
    options["scores"] = [model]
    predictions = load_predictions(_path, name=name, **options)
    return safe_csv(predictions.flagged(model, threshold))


def worklist(source: Source, model: str, threshold: float) -> bytes:
    """The items ``model`` flags at ``threshold`` as formula-safe CSV, highest score first."""
    with st.spinner("Listing the flagged items…"):
        return _worklist(source.digest, source.path, source.name, current_choices(), model, threshold)


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


@st.cache_data(show_spinner=False, max_entries=32)
def _judged(digest: str, _base: EvaluationReport, scenario: str | None, criteria: str,
            threshold: float | None) -> EvaluationReport:
    report = _base.with_scenario(load_scenario("the scenario", text=scenario) if scenario else None)
    judged = report.with_criteria(load_criteria("the criteria", text=criteria))
    return judged if threshold is None else judged.judged_at(threshold)


def judged(report: EvaluationReport, *, threshold: float | None = None) -> EvaluationReport:
    """``report`` with verdicts under the current criteria (each model at its chosen threshold, or at
    ``threshold``); the report unchanged when there are no criteria or they cannot be judged (the reason is
    kept for the criteria page)."""
    agreement, source = current_agreement(), current_source()
    st.session_state[CRITERIA_ERROR] = None
    if agreement is None or source is None:
        return report
    scenario_text = scenario_to_yaml(report.scenario) if report.scenario else None
    try:
        with st.spinner("Bootstrapping the verdicts…"):
            return _judged(source.digest + str(current_choices()), report, scenario_text,
                           criteria_to_yaml(agreement.current), threshold)
    except MetricBridgeError as error:
        st.session_state[CRITERIA_ERROR] = str(error)
        return report


@st.cache_data(show_spinner=False, max_entries=32)
def _report(digest: str, _path: str, name: str, choices: Choices, skeleton: str | None) -> EvaluationReport:
    # Counted once per file, column choice and scenario columns (the skeleton, as YAML); a scenario edit is
    # then arithmetic (report.with_scenario) and a threshold move is report.at(): neither recounts.
    scenario = load_scenario("the scenario", text=skeleton) if skeleton else None
    return evaluate_file(_path, name=name, ask_threshold_for_margins=False, scenario=scenario, threshold=None,
                         **asdict(choices))


def overview(source: Source) -> FileOverview:
    return _overview(source.digest, source.path, source.name)


def report(source: Source, choices: Choices) -> EvaluationReport:
    """The evaluation of the source under the choices and the current scenario (counting cached);
    MetricBridgeError when the data or the scenario cannot be used."""
    scenario = current_scenario()
    skeleton = scenario_to_yaml(scenario.skeleton()) if scenario else None
    with st.spinner(f"Counting scores in {source.name}…"):
        base = _report(source.digest, source.path, source.name, choices, skeleton)
    # The same default threshold as the command line: chosen against the criteria, else the scenario's best.
    report = base.with_scenario(scenario).at_best() if scenario else base
    return judged(report)
