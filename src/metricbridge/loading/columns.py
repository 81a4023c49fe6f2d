"""Guess which columns hold the label and the scores, and say what was guessed and why.

A guess is made only when names and contents agree on a single answer; otherwise the user is asked, with
the candidates listed. Whatever the user names always wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metricbridge.errors import InputError
from metricbridge.loading.builders import quote
from metricbridge.loading.reading import TABLE, Table

__all__ = ["ColumnProfile", "ColumnChoice", "FileOverview", "profile_columns", "choose_columns", "overview",
           "value_groups"]

_LABEL_NAMES = ("label", "target", "y", "y_true", "ytrue", "truth", "ground_truth", "actual", "outcome",
                "class", "is_fraud", "fraud", "churn", "churned", "urgent", "is_urgent", "default",
                "converted", "response", "positive")
_LABEL_PATTERN = re.compile(r"(^(is|has|was)_)|(_(label|target|actual|true|outcome)$)")
_SCORE_PATTERN = re.compile(r"(score|prob|proba|pred|yhat|y_hat|logit|margin|risk|^p_|_p$|model)")
_DECISION_PATTERN = re.compile(r"(rule|flag|decision|current|baseline|status_?quo|manual|heuristic|policy)")
_ID_PATTERN = re.compile(r"(^id$|_id$|^id_|uuid|^key$)")
_WEIGHT_PATTERN = re.compile(r"(^w$|weight)")
_SAMPLED_FROM = 1 << 19  # rows from which distinct values are first estimated on a sample of the table
_SAMPLE = "USING SAMPLE 2 PERCENT (system)"  # whole vectors: cheap, spread over the table


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnProfile:
    """What detection (and validation) needs to know of one column.

    ``groups`` holds, for a column of a handful of values, each normalised value with the column's own
    values that normalise to it and how many rows hold them (sorted by normalised value); None otherwise.
    """

    name: str
    numeric: bool
    non_null: int
    distinct: int  # approximate above a handful; exact for a handful
    values: tuple[str, ...]  # the distinct normalised values, when there are at most 3
    low: float | None
    high: float | None
    groups: tuple[tuple[str, tuple[Any, ...], int], ...] | None = None

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
    profiles: Mapping[str, ColumnProfile] = field(default_factory=dict)  # of the columns profiled to choose


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _norm(value: str) -> str:
    return f"lower(trim(CAST({value} AS VARCHAR)))"


def value_groups(table: Table, column: str, where: str = "TRUE") -> tuple[tuple[str, tuple[Any, ...], int], ...]:
    """Each normalised value of ``column`` in the rows ``where`` selects (the first 12, sorted), with the
    column's own values that normalise to it and their row count: one GROUP BY of the column's own values,
    normalised afterwards (a handful of casts to text, not one a row)."""
    found = table.con.execute(
        f"SELECT {_norm('v')} AS norm, list(v ORDER BY v), sum(n) FROM (SELECT {quote(column)} AS v, count(*) AS n "
        f"FROM {TABLE} WHERE ({where}) AND {quote(column)} IS NOT NULL GROUP BY 1) GROUP BY norm ORDER BY norm "
        "LIMIT 12").fetchall()
    return tuple((str(norm), tuple(raw), int(rows)) for norm, raw, rows in found)


def profile_columns(table: Table, columns: Sequence[str] | None = None) -> dict[str, ColumnProfile]:
    """Counts, ranges and the values of the few-valued columns, of every column (or of ``columns``).

    Which columns hold a handful of values is estimated on a sample of the table's vectors; their sampled
    values are then counted in the same single scan as every column's count and range, so when the counts
    add up to the column's rows the values are exact without a GROUP BY (else the column is grouped).
    """
    names = list(table.columns if columns is None else dict.fromkeys(columns))
    if not names:
        return {}
    con = table.con
    sample = _SAMPLE if table.n_rows >= _SAMPLED_FROM else ""
    distinct_row = con.execute(f"SELECT {', '.join(f'approx_count_distinct({quote(c)})' for c in names)} "
                               f"FROM {TABLE} {sample}").fetchone() or (None,) * len(names)
    distinct = {c: int(d or 0) for c, d in zip(names, distinct_row, strict=True)}
    seen: dict[str, list[tuple[Any, str]]] = {}
    for column in names:
        if distinct[column] <= 4 and table.is_plain(column):
            seen[column] = [(raw, str(norm)) for raw, norm in con.execute(
                f"SELECT DISTINCT v, {_norm('v')} FROM (SELECT {quote(column)} AS v FROM {TABLE} {sample}) "
                "WHERE v IS NOT NULL").fetchall()]
    parts: list[str] = []
    params: list[Any] = []
    for column in names:
        ref = quote(column)
        parts += [f"count({ref})"]
        parts += [f"min({ref})::DOUBLE", f"max({ref})::DOUBLE"] if table.is_numeric(column) else ["NULL", "NULL"]
        parts += [f"count_if({ref} = ?)" for _ in seen.get(column, ())]
        params += [raw for raw, _ in seen.get(column, ())]
    row = list(con.execute(f"SELECT {', '.join(parts)} FROM {TABLE}", params).fetchone() or ())
    profiles = {}
    for column in names:
        (non_null, low, high), row = row[:3], row[3:]
        counted, row = row[:len(seen.get(column, ()))], row[len(seen.get(column, ())):]
        groups: tuple[tuple[str, tuple[Any, ...], int], ...] | None = None
        if column in seen and sum(counted) == non_null:  # the sample saw every value
            by_norm: dict[str, tuple[list[Any], int]] = {}
            for (raw, norm), rows in zip(seen[column], counted, strict=True):
                raws, total = by_norm.get(norm, ([], 0))
                by_norm[norm] = ([*raws, raw], total + int(rows))
            groups = tuple((norm, tuple(raws), total) for norm, (raws, total) in sorted(by_norm.items()))
        elif distinct[column] <= 4:  # a value the sample missed, or a type matched as text: count exactly
            if not sample or (con.execute(f"SELECT approx_count_distinct({quote(column)}) FROM {TABLE}").fetchone()
                              or (5,))[0] <= 4:
                groups = value_groups(table, column)
        values = tuple(norm for norm, _, _ in groups) if groups is not None and len(groups) <= 3 else ()
        profiles[column] = ColumnProfile(name=column, numeric=table.is_numeric(column), non_null=int(non_null),
                                         distinct=len(groups) if groups is not None else max(distinct[column], 5),
                                         values=values, low=low, high=high, groups=groups)
    return profiles


def _require(table: Table, column: str | None, role: str, flag: str) -> None:
    if column is not None and column not in table.columns:
        raise InputError(f"{table.name}: has no column {column!r} (given as the {role} with {flag}). "
                         f"Its columns are: {', '.join(table.columns)}.")


def _guess_label(table: Table, profiles: Mapping[str, ColumnProfile], taken: set[str]) -> tuple[str, str]:
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


def _guess_scores(table: Table, profiles: Mapping[str, ColumnProfile], taken: set[str]) -> tuple[list[str], str]:
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
                   weight: str | None = None, id: str | None = None, exclude: Sequence[str] = (),
                   profiles: Mapping[str, ColumnProfile] | None = None) -> ColumnChoice:
    """The label, score, weight and id columns: as given, else guessed with a note saying why.

    The choice carries the column profiles it was made from (every column when guessing, else the columns
    named), so validation need not scan for them again.
    """
    _require(table, label, "label", "--label")
    for score in scores:
        _require(table, score, "score", "--score")
    _require(table, weight, "weight", "--weight")
    _require(table, id, "id", "--id")
    if profiles is None:  # guessing needs every column; validation the columns in use
        guessing = label is None or not scores
        profiles = profile_columns(table, None if guessing else [c for c in (label, *scores, weight) if c])
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
    return ColumnChoice(label=label, scores=tuple(scores), weight=weight, id=id, notes=tuple(notes),
                        profiles=profiles)


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
    notes, questions = list(table.notes), []
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
