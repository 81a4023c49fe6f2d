"""Success criteria: targets agreed before the work, kept as versioned, signed-off YAML files."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from metricbridge.curve import POINT_METRICS
from metricbridge.errors import CriteriaError
from metricbridge.outcomes import OUTCOME_KEYS
from metricbridge.scenario import Scenario
from metricbridge.yamlfile import FieldPath, Lines, field_message, read_yaml

__all__ = [
    "THRESHOLD_FREE", "TEST_SET", "OUTCOME", "Criterion", "Criteria", "load_criteria", "parse_criteria",
    "criteria_to_yaml", "next_version", "differences",
]

THRESHOLD_FREE = ("roc_auc", "average_precision", "brier", "log_loss")
TEST_SET = POINT_METRICS
OUTCOME = tuple(key for key in OUTCOME_KEYS)
_TOP = {"name", "version", "agreed_by", "agreed_on", "note", "confidence", "objective", "criteria"}
Comparison = Literal["at_least", "at_most"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Criterion:
    """One target: ``metric`` at least / at most ``bound`` (times a status quo's figure with ``relative_to``)."""

    metric: str
    comparison: Comparison
    bound: float
    relative_to: str | None = None

    @property
    def kind(self) -> str:
        """"threshold_free", "test_set" (at the threshold, on the evaluation data) or "outcome" (per period)."""
        if self.metric in THRESHOLD_FREE:
            return "threshold_free"
        return "test_set" if self.metric in TEST_SET else "outcome"

    def holds(self, value: Any, target: Any) -> Any:
        """Whether value meets target (elementwise for arrays); a missing value never holds."""
        with_nan = value >= target if self.comparison == "at_least" else value <= target
        return with_nan & ~(value != value)  # NaN (undefined) fails

    def describe(self) -> str:
        words = "at least" if self.comparison == "at_least" else "at most"
        target = f"{self.bound:g} x {self.relative_to}'s" if self.relative_to else f"{self.bound:g}"
        return f"{self.metric.replace('_', ' ')} {words} {target}"

    def to_yaml(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"metric": self.metric, self.comparison: self.bound}
        if self.relative_to:
            entry["relative_to"] = self.relative_to
        return entry


@dataclass(frozen=True, slots=True, kw_only=True)
class Criteria:
    """An agreement: who agreed on which targets, when, and how sure the evidence must be."""

    name: str
    version: int
    criteria: tuple[Criterion, ...]
    agreed_by: tuple[str, ...] = ()
    agreed_on: dt.date | None = None
    note: str | None = None
    confidence: float = 0.9
    objective: tuple[str, str] | None = None  # ("maximize" | "minimize", metric)

    def objective_for(self, scenario: Scenario | None) -> tuple[str, str]:
        """The objective, or the default: maximize value with a scenario, maximize f1 without."""
        if self.objective is not None:
            return self.objective
        return ("maximize", "value") if scenario is not None else ("maximize", "f1")

    def check(self, scenario: Scenario | None) -> None:
        """Refuse entries that this scenario (or its absence) cannot judge, naming the entry."""
        for index, criterion in enumerate(self.criteria):
            where = f"{self.name!r} criteria[{index}] ({criterion.describe()})"
            if criterion.kind == "outcome" and scenario is None:
                raise CriteriaError(f"{where}: {criterion.metric!r} is a figure per period in deployment and "
                                    "needs a scenario (--scenario, or choose one on the Outcomes page).")
            if criterion.relative_to and scenario is not None:
                names = [sq.name for sq in scenario.status_quo]
                if criterion.relative_to not in names:
                    raise CriteriaError(f"{where}: relative_to names {criterion.relative_to!r}, which is not a "
                                        f"status quo of scenario {scenario.name!r} ({', '.join(names) or 'none'}).")
        if self.objective is not None and self.objective[1] in OUTCOME and scenario is None:
            raise CriteriaError(f"{self.name!r} objective: {self.objective[1]!r} needs a scenario.")


class _Reader:
    def __init__(self, source: str, lines: Lines) -> None:
        self.source, self.lines = source, lines

    def fail(self, path: FieldPath, message: str) -> CriteriaError:
        return CriteriaError(field_message(self.source, self.lines, path, message, whole="the criteria"))

    def number(self, raw: Any, path: FieldPath) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise self.fail(path, f"must be a number, not {raw!r}.")
        return float(raw)

    def criterion(self, raw: Any, path: FieldPath) -> Criterion:
        if not isinstance(raw, Mapping):
            raise self.fail(path, "must be a mapping like {metric: recall, at_least: 0.8}.")
        unknown = [k for k in raw if k not in ("metric", "at_least", "at_most", "relative_to")]
        if unknown:
            raise self.fail((*path, str(unknown[0])), f"unknown field {unknown[0]!r}; an entry has metric, "
                            "at_least or at_most, and optionally relative_to.")
        metric = raw.get("metric")
        known = (*THRESHOLD_FREE, *TEST_SET, *OUTCOME)
        if metric not in known:
            raise self.fail((*path, "metric"), f"unknown metric {metric!r}; use one of: {', '.join(known)}.")
        bounds = [key for key in ("at_least", "at_most") if key in raw]
        if len(bounds) != 1:
            raise self.fail(path, "needs exactly one bound, at_least or at_most (two entries make a range).")
        comparison: Comparison = "at_least" if bounds[0] == "at_least" else "at_most"
        relative_to = raw.get("relative_to")
        if relative_to is not None and metric not in OUTCOME:
            raise self.fail((*path, "relative_to"), f"works with outcome metrics only ({', '.join(OUTCOME)}); "
                            f"{metric!r} is a figure of the test set.")
        return Criterion(metric=metric, comparison=comparison, bound=self.number(raw[bounds[0]], (*path, bounds[0])),
                         relative_to=None if relative_to is None else str(relative_to))

    def objective(self, raw: Any) -> tuple[str, str] | None:
        if raw is None:
            return None
        parts = str(raw).split()
        if len(parts) != 2 or parts[0] not in ("maximize", "minimize") or parts[1] not in (*TEST_SET, *OUTCOME):
            raise self.fail(("objective",), f"must read 'maximize METRIC' or 'minimize METRIC' with a metric that "
                            f"depends on the threshold ({', '.join((*TEST_SET, *OUTCOME))}), not {raw!r}.")
        return parts[0], parts[1]


def parse_criteria(data: Any, *, source: str = "criteria", lines: Lines | None = None) -> Criteria:
    """Criteria from parsed YAML; CriteriaError names the entry that is wrong."""
    read = _Reader(source, lines or Lines(None))
    if not isinstance(data, Mapping):
        raise read.fail((), "must be a mapping with name, version and criteria.")
    unknown = [k for k in data if k not in _TOP]
    if unknown:
        raise read.fail((str(unknown[0]),), f"unknown field {unknown[0]!r}; the fields are: {', '.join(sorted(_TOP))}.")
    for required in ("name", "version", "criteria"):
        if required not in data:
            raise read.fail((required,), "is required.")
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise read.fail(("version",), f"must be a whole number from 1 up, not {version!r}.")
    confidence = read.number(data.get("confidence", 0.9), ("confidence",))
    if not 0.5 < confidence < 1:
        raise read.fail(("confidence",), f"must be above 0.5 and below 1, not {confidence:g}.")
    entries = data["criteria"]
    if not isinstance(entries, list) or not entries:
        raise read.fail(("criteria",), "must be a list of entries like - {metric: recall, at_least: 0.8}.")
    agreed_by = data.get("agreed_by") or []
    agreed_by = [agreed_by] if isinstance(agreed_by, str) else agreed_by
    agreed_on = data.get("agreed_on")
    if agreed_on is not None and not isinstance(agreed_on, dt.date):
        try:
            agreed_on = dt.date.fromisoformat(str(agreed_on))
        except ValueError as error:
            raise read.fail(("agreed_on",), f"must be a date like 2026-11-20, not {agreed_on!r}.") from error
    return Criteria(name=str(data["name"]), version=version, agreed_by=tuple(str(p) for p in agreed_by),
                    agreed_on=agreed_on, note=None if data.get("note") is None else str(data["note"]),
                    confidence=confidence, objective=read.objective(data.get("objective")),
                    criteria=tuple(read.criterion(raw, ("criteria", i)) for i, raw in enumerate(entries)))


def load_criteria(source: str | Path, *, text: str | None = None) -> Criteria:
    """Read a criteria YAML file (or ``text`` with ``source`` naming it in messages)."""
    name, data, lines = read_yaml(source, text, CriteriaError, "criteria need a name, a version and criteria")
    return parse_criteria(data, source=name, lines=lines)


def criteria_to_yaml(criteria: Criteria) -> str:
    data: dict[str, Any] = {"name": criteria.name, "version": criteria.version,
                            "agreed_by": list(criteria.agreed_by), "agreed_on": criteria.agreed_on,
                            "note": criteria.note, "confidence": criteria.confidence,
                            "objective": " ".join(criteria.objective) if criteria.objective else None,
                            "criteria": [c.to_yaml() for c in criteria.criteria]}
    import yaml

    return yaml.safe_dump({k: v for k, v in data.items() if v not in (None, [])}, sort_keys=False,
                          allow_unicode=True, default_flow_style=None)


def next_version(edited: Criteria, *, started_from: Criteria, agreed_by: tuple[str, ...],
                 today: dt.date | None = None) -> Criteria:
    """The edited targets as the next version: a new number, today's date and who agreed."""
    return replace(edited, version=started_from.version + 1, agreed_on=today or dt.date.today(),
                   agreed_by=agreed_by)


def differences(old: Criteria, new: Criteria) -> list[str]:
    """What changed between two versions, one line per change, in words."""
    changes = []
    before = {c.describe() for c in old.criteria}
    after = {c.describe() for c in new.criteria}
    changes += [f"removed: {text}" for text in sorted(before - after)]
    changes += [f"added: {text}" for text in sorted(after - before)]
    for field in ("name", "confidence", "objective", "note"):
        if getattr(old, field) != getattr(new, field):
            changes.append(f"{field}: {getattr(old, field)!r} -> {getattr(new, field)!r}")
    return changes
