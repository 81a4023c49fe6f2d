"""Guess which columns hold the label and the scores, and say what was guessed and why.

A guess is made only when names and contents agree on a single answer; otherwise the user is asked, with
the candidates listed. Whatever the user names always wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from metricbridge.errors import InputError
from metricbridge.loading.builders import quote
from metricbridge.loading.reading import TABLE, Table

__all__ = ["ColumnProfile", "ColumnChoice", "FileOverview", "profile_columns", "choose_columns", "overview"]

_LABEL_NAMES = ("label", "target", "y", "y_true", "ytrue", "truth", "ground_truth", "actual", "outcome",
                "class", "is_fraud", "fraud", "churn", "churned", "urgent", "is_urgent", "default",
                "converted", "response", "positive")
_LABEL_PATTERN = re.compile(r"(^(is|has|was)_)|(_(label|target|actual|true|outcome)$)")
_SCORE_PATTERN = re.compile(r"(score|prob|proba|pred|yhat|y_hat|logit|margin|risk|^p_|_p$|model)")
_DECISION_PATTERN = re.compile(r"(rule|flag|decision|current|baseline|status_?quo|manual|heuristic|policy)")
_ID_PATTERN = re.compile(r"(^id$|_id$|^id_|uuid|^key$)")
_WEIGHT_PATTERN = re.compile(r"(^w$|weight)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnProfile:
    """What detection needs to know of one column."""

    name: str
    numeric: bool
    non_null: int
    distinct: int  # approximate above a handful; exact for a handful
    values: tuple[str, ...]  # the distinct normalised values, when there are at most 3
    low: float | None
    high: float | None

    @property
    def binary(self) -> bool:
        return 1 <= len(self.values) <= 2

    @property
    def zero_one(self) -> bool:
        return self.binary and set(self.values) <= {"0", "1", "0.0", "1.0", "true", "false"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnChoice:
    label: str
    scores: tuple[str, ...]
    weight: str | None
    id: str | None
    notes: tuple[str, ...]  # what was guessed, and why


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def profile_columns(table: Table) -> dict[str, ColumnProfile]:
    """One aggregate pass for counts and ranges, then the values of the few low-cardinality columns."""
    parts = []
    for column in table.columns:
        ref = quote(column)
        parts += [f"count({ref})", f"approx_count_distinct({ref})"]
        parts += [f"min({ref})::DOUBLE", f"max({ref})::DOUBLE"] if table.is_numeric(column) else ["NULL", "NULL"]
    row = table.con.execute(f"SELECT {', '.join(parts)} FROM {TABLE}").fetchone() or ()
    profiles = {}
    for i, column in enumerate(table.columns):
        non_null, distinct, low, high = row[4 * i: 4 * i + 4]
        values: tuple[str, ...] = ()
        if distinct is not None and distinct <= 4:
            found = table.con.execute(
                f"SELECT DISTINCT lower(trim(CAST({quote(column)} AS VARCHAR))) AS v FROM {TABLE} "
                f"WHERE {quote(column)} IS NOT NULL LIMIT 4").fetchall()
            values = tuple(sorted(str(v[0]) for v in found)) if len(found) <= 3 else ()
        profiles[column] = ColumnProfile(name=column, numeric=table.is_numeric(column), non_null=int(non_null),
                                         distinct=int(distinct or 0), values=values, low=low, high=high)
    return profiles


def _require(table: Table, column: str | None, role: str, flag: str) -> None:
    if column is not None and column not in table.columns:
        raise InputError(f"{table.name}: has no column {column!r} (given as the {role} with {flag}). "
                         f"Its columns are: {', '.join(table.columns)}.")


def _guess_label(table: Table, profiles: dict[str, ColumnProfile], taken: set[str]) -> tuple[str, str]:
    free = [p for p in profiles.values() if p.name not in taken]
    # A column named like a label is taken even with more than two values, so the user hears what is wrong.
    exact = sorted((p for p in free if _key(p.name) in _LABEL_NAMES), key=lambda p: _LABEL_NAMES.index(_key(p.name)))
    binary = [p for p in free if p.binary]
    named = exact or [p for p in binary if _LABEL_PATTERN.search(_key(p.name))]
    if len(named) == 1 or (exact and exact[0].binary):
        choice = named[0]
        values = f" and it holds two values ({', '.join(choice.values)})" if choice.binary else ""
        return choice.name, f"label: {choice.name!r}, because its name reads like a label{values}"
    plain = [p for p in binary
             if not _DECISION_PATTERN.search(_key(p.name)) and not _SCORE_PATTERN.search(_key(p.name))]
    if len(plain) == 1 and not named:
        return plain[0].name, (f"label: {plain[0].name!r}, the only column with two values "
                               f"({', '.join(plain[0].values)})")
    candidates = [p.name for p in (named or binary)]
    if candidates:
        raise InputError(f"{table.name}: more than one column could be the label: {', '.join(candidates)}. "
                         "Say which holds the true outcome with --label COLUMN (or pick it in the app).")
    raise InputError(f"{table.name}: no column looks like a label (a column with two values such as 0/1, "
                     f"true/false or yes/no). Its columns are: {', '.join(table.columns)}. Name the label "
                     "column with --label COLUMN.")


def _guess_scores(table: Table, profiles: dict[str, ColumnProfile], taken: set[str]) -> tuple[list[str], str]:
    usable = [p for p in profiles.values() if p.name not in taken
              and not _ID_PATTERN.search(_key(p.name)) and not _WEIGHT_PATTERN.search(_key(p.name))]
    numeric = [p for p in usable if p.numeric]
    # A text column named like a score is kept: the validation then names its rows that are not numbers.
    named = [p.name for p in usable if _SCORE_PATTERN.search(_key(p.name))
             and not (_DECISION_PATTERN.search(_key(p.name)) and p.binary)]
    if named:
        return named, (f"score column{'s' if len(named) > 1 else ''}: {', '.join(repr(n) for n in named)}, "
                       "numeric with names that read like model scores")
    probable = [p.name for p in numeric if not p.binary and p.low is not None and p.high is not None
                and 0 <= p.low and p.high <= 1]
    if len(probable) == 1:
        return probable, f"score column: {probable[0]!r}, the only numeric column of values between 0 and 1"
    candidates = [p.name for p in numeric if not p.binary] or [p.name for p in numeric]
    if candidates:
        raise InputError(f"{table.name}: cannot tell which columns hold the model's scores; candidates: "
                         f"{', '.join(candidates)}. Name them with --score COLUMN (repeat it for several "
                         "models), or pick them in the app.")
    raise InputError(f"{table.name}: has no numeric column that could hold scores. Its columns are: "
                     f"{', '.join(table.columns)}. A score column holds numbers (probabilities or margins).")


def choose_columns(table: Table, *, label: str | None = None, scores: tuple[str, ...] | list[str] = (),
                   weight: str | None = None, id: str | None = None,
                   exclude: Sequence[str] = ()) -> ColumnChoice:
    """The label, score, weight and id columns: as given, else guessed with a note saying why."""
    _require(table, label, "label", "--label")
    for score in scores:
        _require(table, score, "score", "--score")
    _require(table, weight, "weight", "--weight")
    _require(table, id, "id", "--id")
    profiles = profile_columns(table)
    notes = []
    taken = {c for c in (weight, id, *exclude) if c}
    if label is None:
        label, note = _guess_label(table, profiles, taken | set(scores))
        notes.append(note)
    if not scores:
        guessed, note = _guess_scores(table, profiles, taken | {label})
        scores = guessed
        notes.append(note)
    if label in scores:
        raise InputError(f"{table.name}: column {label!r} cannot be both the label and a score.")
    return ColumnChoice(label=label, scores=tuple(scores), weight=weight, id=id, notes=tuple(notes))


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOverview:
    """What a person choosing columns needs: the columns, the guesses (or the question), the label values."""

    file: str
    columns: tuple[str, ...]
    numeric: tuple[str, ...]
    rows: int
    values: dict[str, tuple[str, ...]]  # distinct normalised values of columns with at most three
    label: str | None
    scores: tuple[str, ...]
    notes: tuple[str, ...]
    questions: tuple[str, ...]  # why a guess was not made


def overview(table: Table) -> FileOverview:
    """Guess the label and scores separately, so one ambiguity does not hide the other guess."""
    profiles = profile_columns(table)
    label: str | None = None
    scores: list[str] = []
    notes, questions = [], []
    try:
        label, note = _guess_label(table, profiles, set())
        notes.append(note)
    except InputError as error:
        questions.append(str(error))
    try:
        scores, note = _guess_scores(table, profiles, {label} if label else set())
        notes.append(note)
    except InputError as error:
        questions.append(str(error))
    return FileOverview(file=table.name, columns=table.columns,
                        numeric=tuple(c for c in table.columns if table.is_numeric(c)), rows=table.n_rows,
                        values={p.name: p.values for p in profiles.values() if p.values}, label=label,
                        scores=tuple(scores), notes=tuple(notes), questions=tuple(questions))
