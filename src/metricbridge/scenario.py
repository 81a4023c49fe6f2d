"""Scenario: what one row is, what the model looks for, what a flag costs, and what each outcome is worth.

A scenario is a YAML file a team keeps beside its model (see ``data/scenarios/``). Loading it checks every
field and refuses a bad one with a ScenarioError naming the field and its line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metricbridge.errors import ScenarioError
from metricbridge.limits import LIMITS
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
    "PERIODS", "OUTCOME_VALUES", "ItemValue", "StatusQuo", "Scenario", "load_scenario",
    "parse_scenario", "scenario_to_yaml",
]

PERIODS = ("day", "week", "month", "quarter", "year")
OUTCOME_VALUES = ("caught", "missed", "false_alarm", "left_alone")
_TOP_KEYS = {"name", "item", "positive", "action", "period", "volume", "prevalence", "capacity",
             "minutes_per_action", "cost_per_hour", "currency", "value", "status_quo"}
_STATUS_QUO_KEYS = {"name", "column", "recall", "false_alarm_rate", "effort_share", "minutes_per_action"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemValue:
    """The worth of one item in an outcome: a constant, or ``times`` x a column of the data."""

    constant: float = 0.0
    column: str | None = None
    times: float = 1.0

    def to_yaml(self) -> float | dict[str, Any]:
        if self.column is None:
            return self.constant
        return {"column": self.column, "times": self.times}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusQuo:
    """What is done today: recorded decisions in a ``column`` of the data, or stated rates."""

    name: str
    column: str | None = None
    recall: float | None = None
    false_alarm_rate: float | None = None
    effort_share: float | None = None
    minutes_per_action: float | None = None

    def to_yaml(self) -> dict[str, Any]:
        fields = ("name", "column", "recall", "false_alarm_rate", "effort_share", "minutes_per_action")
        return {key: getattr(self, key) for key in fields if getattr(self, key) is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """The mapping from counts to outcomes per period; see DESIGN.md for the formulas."""

    volume: float
    name: str = "Scenario"
    item: str = "item"
    positive: str = "positive"
    action: str = "action"
    period: str = "day"
    prevalence: float | None = None
    capacity: float | None = None
    minutes_per_action: float = 0.0
    cost_per_hour: float = 0.0
    currency: str | None = None
    value: Mapping[str, ItemValue] = field(default_factory=dict)
    status_quo: tuple[StatusQuo, ...] = ()

    def __hash__(self) -> int:
        # Hashable, so caches key on the scenario itself (no YAML round trip); ``value`` is a dict.
        return hash((self.volume, self.name, self.item, self.positive, self.action, self.period, self.prevalence,
                     self.capacity, self.minutes_per_action, self.cost_per_hour, self.currency,
                     tuple(sorted(self.value.items())), self.status_quo))

    def item_value(self, outcome: str) -> ItemValue:
        return self.value.get(outcome, ItemValue())

    @property
    def effort_cost(self) -> float:
        """Cost of the effort of one action: minutes / 60 x cost per hour."""
        return self.minutes_per_action / 60 * self.cost_per_hour

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Data columns whose sums the counting must carry."""
        return tuple(dict.fromkeys(v.column for v in self.value.values() if v.column))

    @property
    def status_quo_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(sq.column for sq in self.status_quo if sq.column))

    def status_quo_named(self, name: str) -> StatusQuo:
        for entry in self.status_quo:
            if entry.name == name:
                return entry
        raise ScenarioError(f"scenario {self.name!r} has no status quo named {name!r}; it has: "
                            f"{', '.join(sq.name for sq in self.status_quo) or 'none'}.")

    def skeleton(self) -> Scenario:
        """Only what counting depends on (the columns, under the fields that name them): two scenarios
        with the same skeleton share one counting, and the figures are applied afterwards."""
        return Scenario(name=self.name, volume=1,
                        value={k: ItemValue(column=self.item_value(k).column) for k in OUTCOME_VALUES},
                        status_quo=tuple(StatusQuo(name=sq.name, column=sq.column) for sq in self.status_quo
                                         if sq.column))

    def numbers(self) -> Scenario:
        """The scenario without its words (its name, the item, positive and action nouns, the currency, the
        period's name): every figure it gives is the same, so caches of figures key on this."""
        return Scenario(volume=self.volume, prevalence=self.prevalence, capacity=self.capacity,
                        minutes_per_action=self.minutes_per_action, cost_per_hour=self.cost_per_hour,
                        value=self.value, status_quo=self.status_quo)

    def with_changes(self, **changes: Any) -> Scenario:
        """A copy with some fields changed and validated again (what the editor and sensitivity use)."""
        data = {**_as_dict(self), **changes}
        return parse_scenario(data, source="the edited scenario")


def _as_dict(scenario: Scenario) -> dict[str, Any]:
    return {
        "name": scenario.name, "item": scenario.item, "positive": scenario.positive, "action": scenario.action,
        "period": scenario.period, "volume": scenario.volume, "prevalence": scenario.prevalence,
        "capacity": scenario.capacity, "minutes_per_action": scenario.minutes_per_action,
        "cost_per_hour": scenario.cost_per_hour, "currency": scenario.currency,
        "value": {key: v.to_yaml() for key, v in scenario.value.items()},
        "status_quo": [sq.to_yaml() for sq in scenario.status_quo],
    }


def scenario_to_yaml(scenario: Scenario) -> str:
    """The YAML form (optional fields left at their defaults are omitted)."""
    data = {key: value for key, value in _as_dict(scenario).items()
            if key in ("volume", "value") or value not in (None, [], {})}
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# -- parsing with line numbers ------------------------------------------------------------------------------

# What to do about a figure past its limit (limits.py), by limit.
_FIXES = {
    "volume": "give the items per period (a shorter period keeps the figure smaller), and check for a typo",
    "money": "give worths in a larger unit (thousands of the currency), and check for a typo",
    "times": "times is the multiple of the column's value an item is worth; scale the column instead",
    "minutes": "a million minutes is about two years per action: check for a typo",
}


class _Reader:
    def __init__(self, source: str, lines: Lines) -> None:
        self.source, self.lines = source, lines

    def fail(self, path: FieldPath, message: str) -> ScenarioError:
        return ScenarioError(field_message(self.source, self.lines, path, message, whole="the scenario"))

    def number(self, data: Mapping[str, Any], path: FieldPath, *, default: float | None = None,
               low: float | None = None, high: float | None = None, open_interval: bool = False,
               limit: str | None = None, signed: bool = False, fix: str | None = None) -> float | None:
        """The number at ``path`` (None when absent), within [low, high] (or strictly between), and within
        +-LIMITS.<limit> when ``limit`` names one (``signed``: below too)."""
        raw = data.get(str(path[-1]), default)
        if raw is None:
            return None
        return self.figure(raw, path, low=low, high=high, open_interval=open_interval, limit=limit, signed=signed,
                           fix=fix)

    def figure(self, raw: Any, path: FieldPath, *, low: float | None = None, high: float | None = None,
               open_interval: bool = False, limit: str | None = None, signed: bool = False,
               fix: str | None = None) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise self.fail(path, not_a_number(raw))
        if isinstance(raw, float) and not math.isfinite(raw):
            raise self.fail(path, f"must be a finite number, not {raw!r} (.inf, .nan, or a figure beyond about "
                            "1.8e308): give the figure itself.")
        # Compared before float(): an int of 400 digits is an OverflowError there.
        if open_interval and low is not None and high is not None and not low < raw < high:
            raise self.fail(path, f"must lie strictly between {low:g} and {high:g}, not {figure(raw)}.")
        if not open_interval and low is not None and raw < low:
            raise self.fail(path, f"must be at least {low:g}, not {figure(raw)}.")
        if not open_interval and high is not None and raw > high:
            raise self.fail(path, f"must be at most {high:g}, not {figure(raw)}.")
        if limit is not None:
            bound = getattr(LIMITS, limit)
            if raw > bound or (signed and raw < -bound):
                side = f"above the limit of {bound:g}" if raw > bound else f"below the limit of {-bound:g}"
                raise self.fail(path, f"is {figure(raw)}, {side} (limits.{limit}): {fix or _FIXES[limit]}.")
        return float(raw)

    def text(self, data: Mapping[str, Any], path: FieldPath, default: str | None) -> str | None:
        raw = data.get(str(path[-1]), default)
        if raw is None:
            return None
        if isinstance(raw, bool):  # YAML 1.1 reads a bare no/yes as a boolean
            raise self.fail(path, f"must be text; quote it (\"{'yes' if raw else 'no'}\").")
        if not isinstance(raw, str | int | float):
            raise self.fail(path, f"must be text, not {described(raw)}.")
        return str(raw)

    def keys(self, data: Any, path: FieldPath, allowed: set[str], what: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            fix = " Write one field per line, like 'volume: 20000' (see data/scenarios/)." if not path else ""
            raise self.fail(path, f"must be a mapping of {what}, not {described(data)}.{fix}")
        unknown = [str(k) for k in data if str(k) not in allowed]
        if unknown:
            raise self.fail((*path, unknown[0]), f"unknown field {shown(unknown[0])}; the fields are: "
                            f"{', '.join(sorted(allowed))}.")
        return data

    def item_value(self, raw: Any, path: FieldPath) -> ItemValue:
        if raw is None:
            return ItemValue()
        if isinstance(raw, Mapping):
            self.keys(raw, path, {"column", "times"}, "column and times")
            column = self.text(raw, (*path, "column"), None)
            if not column:
                raise self.fail((*path, "column"), "names the data column whose value each item is worth.")
            times = self.number(raw, (*path, "times"), default=1.0, limit="times", signed=True)
            return ItemValue(column=column, times=1.0 if times is None else times)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise self.fail(path, f"must be a number or {{column: NAME, times: X}}, not {shown(raw)}.")
        return ItemValue(constant=self.figure(raw, path, limit="money", signed=True))

    def status_quo(self, raw: Any, path: FieldPath) -> StatusQuo:
        entry = self.keys(raw, path, _STATUS_QUO_KEYS, "status-quo fields")
        name = self.text(entry, (*path, "name"), None)
        if not name:
            raise self.fail((*path, "name"), "every status quo needs a name (\"Amount rule\", \"Do nothing\").")
        column = self.text(entry, (*path, "column"), None)
        recall = self.number(entry, (*path, "recall"), low=0, high=1)
        false_alarm_rate = self.number(entry, (*path, "false_alarm_rate"), low=0, high=1)
        if column is None and (recall is None or false_alarm_rate is None):
            raise self.fail(path, "give either a column of recorded decisions, or both recall and "
                            "false_alarm_rate.")
        if column is not None and (recall is not None or false_alarm_rate is not None):
            raise self.fail(path, "give a column or rates, not both.")
        return StatusQuo(name=name, column=column, recall=recall, false_alarm_rate=false_alarm_rate,
                         effort_share=self.number(entry, (*path, "effort_share"), low=0, high=1),
                         minutes_per_action=self.number(entry, (*path, "minutes_per_action"), low=0,
                                                        limit="minutes"))


def parse_scenario(data: Any, *, source: str = "scenario", lines: Lines | None = None) -> Scenario:
    """A Scenario from parsed YAML (a mapping); ScenarioError names the field that is wrong."""
    read = _Reader(source, lines or Lines(None))
    data = read.keys(data, (), _TOP_KEYS, "scenario fields")
    if "volume" not in data:
        raise read.fail(("volume",), "is required: how many items arrive per period in deployment.")
    if "value" not in data:
        raise read.fail(("value",), "is required: what a caught, missed, false_alarm and left_alone item is worth.")
    period = read.text(data, ("period",), "day")
    if period not in PERIODS:
        raise read.fail(("period",), f"must be one of {', '.join(PERIODS)}, not {shown(period)}.")
    values = read.keys(data["value"] or {}, ("value",), set(OUTCOME_VALUES), "outcome values")
    entries = data.get("status_quo") or []
    if not isinstance(entries, list):
        raise read.fail(("status_quo",), "must be a list of entries (each starting with '- name: ...').")
    status_quo = tuple(read.status_quo(entry, ("status_quo", i)) for i, entry in enumerate(entries))
    names = [sq.name for sq in status_quo]
    if len(set(names)) != len(names):
        raise read.fail(("status_quo",), "two entries share a name; give each a name of its own.")
    volume = read.number(data, ("volume",), low=0, limit="volume")
    if volume is None:
        raise read.fail(("volume",), "is empty: give how many items arrive per period in deployment.")
    return Scenario(
        name=read.text(data, ("name",), "Scenario") or "Scenario",
        item=read.text(data, ("item",), "item") or "item",
        positive=read.text(data, ("positive",), "positive") or "positive",
        action=read.text(data, ("action",), "action") or "action",
        period=period or "day",
        volume=volume,
        prevalence=read.number(data, ("prevalence",), low=0, high=1, open_interval=True),
        capacity=read.number(data, ("capacity",), low=0, limit="volume",
                             fix="capacity is the actions possible per period, and this many limits nothing: "
                             "leave capacity out"),
        minutes_per_action=read.number(data, ("minutes_per_action",), default=0.0, low=0, limit="minutes") or 0.0,
        cost_per_hour=read.number(data, ("cost_per_hour",), default=0.0, low=0, limit="money") or 0.0,
        currency=read.text(data, ("currency",), None),
        value={key: read.item_value(values.get(key), ("value", key)) for key in OUTCOME_VALUES},
        status_quo=status_quo,
    )


def load_scenario(source: str | Path, *, text: str | None = None) -> Scenario:
    """Read a scenario YAML file (or ``text`` with ``source`` naming it in messages)."""
    name, data, lines = read_yaml(source, text, ScenarioError, "a scenario needs at least volume and value",
                                  whole="the scenario")
    return parse_scenario(data, source=name, lines=lines)
