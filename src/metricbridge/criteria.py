"""Success criteria: targets agreed before the work, kept as versioned, signed-off YAML files."""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from metricbridge.curve import POINT_METRICS
from metricbridge.errors import CriteriaError
from metricbridge.outcomes import OUTCOME_KEYS
from metricbridge.scenario import Scenario
from metricbridge.yamlfile import (
    FieldPath,
    Lines,
    described,
    field_message,
    figure,
    not_a_number,
    read_yaml,
    shown,
)

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


# A version counts agreements; the store keeps it as a 32-bit integer.
_VERSIONS = 10**9
_ISO_DAY = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


class _Reader:
    def __init__(self, source: str, lines: Lines) -> None:
        self.source, self.lines = source, lines

    def fail(self, path: FieldPath, message: str) -> CriteriaError:
        return CriteriaError(field_message(self.source, self.lines, path, message, whole="the criteria"))

    def number(self, raw: Any, path: FieldPath) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise self.fail(path, not_a_number(raw))
        if isinstance(raw, float) and not math.isfinite(raw):
            raise self.fail(path, f"must be a finite number, not {raw!r} (.inf, .nan, or a figure beyond about "
                            "1.8e308): give the figure itself.")
        if abs(raw) > sys.float_info.max:  # an int of 309 digits or more (YAML lets a file hold 100)
            raise self.fail(path, f"is {figure(raw)}, beyond any figure a number can hold: check for a typo.")
        return float(raw)

    def text(self, raw: Any, path: FieldPath) -> str:
        if isinstance(raw, bool):  # YAML 1.1 reads a bare no/yes as a boolean
            raise self.fail(path, f"must be text; quote it (\"{'yes' if raw else 'no'}\").")
        if not isinstance(raw, str | int | float):
            raise self.fail(path, f"must be text, not {described(raw)}.")
        return str(raw)

    def criterion(self, raw: Any, path: FieldPath) -> Criterion:
        if not isinstance(raw, Mapping):
            raise self.fail(path, "must be a mapping like {metric: recall, at_least: 0.8}.")
        unknown = [k for k in raw if k not in ("metric", "at_least", "at_most", "relative_to")]
        if unknown:
            raise self.fail((*path, str(unknown[0])), f"unknown field {shown(unknown[0])}; an entry has metric, "
                            "at_least or at_most, and optionally relative_to.")
        metric = raw.get("metric")
        known = (*THRESHOLD_FREE, *TEST_SET, *OUTCOME)
        if not isinstance(metric, str) or metric not in known:
            raise self.fail((*path, "metric"), f"unknown metric {shown(metric)}; use one of: {', '.join(known)}.")
        bounds = [key for key in ("at_least", "at_most") if key in raw]
        if len(bounds) != 1:
            raise self.fail(path, "needs exactly one bound, at_least or at_most (two entries make a range).")
        comparison: Comparison = "at_least" if bounds[0] == "at_least" else "at_most"
        relative_to = raw.get("relative_to")
        if relative_to is not None and metric not in OUTCOME:
            raise self.fail((*path, "relative_to"), f"works with outcome metrics only ({', '.join(OUTCOME)}); "
                            f"{metric!r} is a figure of the test set.")
        return Criterion(metric=metric, comparison=comparison, bound=self.number(raw[bounds[0]], (*path, bounds[0])),
                         relative_to=None if relative_to is None else self.text(relative_to, (*path, "relative_to")))

    def objective(self, raw: Any) -> tuple[str, str] | None:
        if raw is None:
            return None
        parts = raw.split() if isinstance(raw, str) else []
        if len(parts) != 2 or parts[0] not in ("maximize", "minimize") or parts[1] not in (*TEST_SET, *OUTCOME):
            raise self.fail(("objective",), f"must read 'maximize METRIC' or 'minimize METRIC' with a metric that "
                            f"depends on the threshold ({', '.join((*TEST_SET, *OUTCOME))}), not {shown(raw)}.")
        return parts[0], parts[1]

    def version(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise self.fail(("version",), f"must be a whole number from 1 up, not {shown(raw)}.")
        if raw >= _VERSIONS:
            raise self.fail(("version",), f"is {figure(raw)}, above the limit of {_VERSIONS - 1:,}: a version "
                            "counts agreements (1, 2, 3, ...); give the next number after the last agreed one.")
        return raw

    def agreed_by(self, raw: Any) -> tuple[str, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            return (self.text(raw, ("agreed_by",)),)
        return tuple(self.text(person, ("agreed_by", i)) for i, person in enumerate(raw))

    def agreed_on(self, raw: Any) -> dt.date | None:
        if raw is None or (isinstance(raw, dt.date) and not isinstance(raw, dt.datetime)):
            return raw
        if isinstance(raw, dt.datetime):  # 2026-11-20 10:00: the day is what was agreed on
            return raw.date()
        problem = None
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw)
            except ValueError as error:
                problem = error
        day = isinstance(raw, str) and _ISO_DAY.match(raw)
        why = f", which is no day of the calendar ({problem})" if day and problem else ""
        raise self.fail(("agreed_on",), f"must be a date like 2026-11-20 (year-month-day), not {shown(raw)}{why}.")


def parse_criteria(data: Any, *, source: str = "criteria", lines: Lines | None = None) -> Criteria:
    """Criteria from parsed YAML; CriteriaError names the entry that is wrong."""
    read = _Reader(source, lines or Lines(None))
    if not isinstance(data, Mapping):
        raise read.fail((), f"must be a mapping with name, version and criteria, not {described(data)}: write one "
                        "field per line, like 'version: 1' (see data/criteria/).")
    unknown = [k for k in data if k not in _TOP]
    if unknown:
        raise read.fail((str(unknown[0]),), f"unknown field {shown(unknown[0])}; the fields are: "
                        f"{', '.join(sorted(_TOP))}.")
    for required in ("name", "version", "criteria"):
        if required not in data:
            raise read.fail((required,), "is required.")
    version = read.version(data["version"])
    confidence = read.number(data.get("confidence", 0.9), ("confidence",))
    if not 0.5 < confidence < 1:
        raise read.fail(("confidence",), f"must be above 0.5 and below 1, not {confidence:g}.")
    entries = data["criteria"]
    if not isinstance(entries, list) or not entries:
        raise read.fail(("criteria",), "must be a list of entries like - {metric: recall, at_least: 0.8}.")
    note = data.get("note")
    return Criteria(name=read.text(data["name"], ("name",)), version=version,
                    agreed_by=read.agreed_by(data.get("agreed_by") or None),
                    agreed_on=read.agreed_on(data.get("agreed_on")),
                    note=None if note is None else read.text(note, ("note",)),
                    confidence=confidence, objective=read.objective(data.get("objective")),
                    criteria=tuple(read.criterion(raw, ("criteria", i)) for i, raw in enumerate(entries)))


def load_criteria(source: str | Path, *, text: str | None = None) -> Criteria:
    """Read a criteria YAML file (or ``text`` with ``source`` naming it in messages)."""
    name, data, lines = read_yaml(source, text, CriteriaError, "criteria need a name, a version and criteria",
                                  whole="the criteria")
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
