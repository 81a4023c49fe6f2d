"""Predictions: a validated file of labels and one or more models' scores, ready to count.

Every check runs in DuckDB over the whole column and reports the first offending rows by their spreadsheet
row number, with their values, so a user can find and fix them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from metricbridge.counts import ScoreCounts
from metricbridge.errors import InputError
from metricbridge.loading.builders import DEFAULT_BINS, CountingRequest, counts_from_table, quote
from metricbridge.loading.columns import choose_columns
from metricbridge.loading.labels import resolve_positive
from metricbridge.loading.reading import SPREADSHEET_ROW, TABLE, Table, read_table

__all__ = ["Predictions", "load_predictions", "MAX_ROWS_SHOWN"]

MAX_ROWS_SHOWN = 5
_FLAGGED = ("1", "1.0", "true", "yes", "y", "t")  # a recorded decision that acted on the item
_DECISION_VALUES = (*_FLAGGED, "0", "0.0", "false", "no", "n", "f")


def _label_norm(column: str) -> str:
    return f"lower(trim(CAST({quote(column)} AS VARCHAR)))"


def _number(column: str) -> str:
    """The column as DOUBLE; text that is no number becomes NULL (and is reported before use)."""
    return f"TRY_CAST({quote(column)} AS DOUBLE)"


def _decision_sql(column: str) -> str:
    """1 where a recorded decision acted on the item, else 0 (the spellings are constants, not data)."""
    flagged = ", ".join(f"'{value}'" for value in _FLAGGED)
    return f"CAST(CASE WHEN {_label_norm(column)} IN ({flagged}) THEN 1 ELSE 0 END AS TINYINT)"


def _is_missing(column: str) -> str:
    return f"({quote(column)} IS NULL OR isnan({_number(column)}))"


def _offending(table: Table, condition: str, column: str, where: str = "TRUE",
               params: Sequence[object] = ()) -> tuple[int, str]:
    """How many rows meet ``condition`` (its values bound by ``params``), and the first few as "row 7: 'abc'"."""
    count = (table.con.execute(f"SELECT count(*) FROM {TABLE} WHERE ({where}) AND ({condition})",
                               list(params)).fetchone() or (0,))[0]
    rows = table.con.execute(
        f"SELECT {SPREADSHEET_ROW}, CAST({quote(column)} AS VARCHAR) FROM {TABLE} WHERE ({where}) AND "
        f"({condition}) ORDER BY rowid LIMIT {MAX_ROWS_SHOWN}", list(params)).fetchall()
    shown = ", ".join(f"row {row}: {'(empty)' if value is None else repr(value)}" for row, value in rows)
    more = f" and {count - len(rows)} more" if count > len(rows) else ""
    return int(count), shown + more


def _check_numbers(table: Table, column: str, role: str) -> None:
    if table.is_numeric(column):
        bad = f"isinf({quote(column)}::DOUBLE)"
        count, shown = _offending(table, bad, column)
        if count:
            raise InputError(f"{table.name}: {role} column {column!r} holds infinite values ({shown}). Replace "
                             "them with finite numbers and upload again.")
        return
    text = f"{quote(column)} IS NOT NULL AND ({_number(column)} IS NULL OR isinf({_number(column)}))"
    count, shown = _offending(table, text, column)
    if count:
        raise InputError(f"{table.name}: {role} column {column!r} holds text where a number is expected "
                         f"({shown}). Fix or remove those rows and upload again.")


def _missing_message(table: Table, column: str, role: str, count: int, shown: str) -> str:
    return (f"{table.name}: {role} column {column!r} is empty in {count} row{'s' if count > 1 else ''} "
            f"({shown}). Fill them in, or drop those rows (--drop-missing, or the checkbox in the app).")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Predictions:
    """Labels and scores of one file, validated; ``where`` keeps the rows in use (others were dropped).

    ``positive`` is the normalised label value of the positive class. ``extras`` are the file's other
    columns (ids, time, segments, recorded decisions), kept for later stages.
    """

    table: Table
    label: str
    positive: str
    scores: tuple[str, ...]
    weight: str | None
    id: str | None
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    dropped_rows: int
    where: str

    @property
    def file(self) -> str:
        return self.table.name

    @property
    def rows(self) -> int:
        """Rows in use, after any dropped for missing values."""
        return self.table.n_rows - self.dropped_rows

    @property
    def extras(self) -> tuple[str, ...]:
        used = {self.label, *self.scores, self.weight, self.id}
        return tuple(c for c in self.table.columns if c not in used)

    @property
    def label_sql(self) -> str:
        """SQL giving 1 for a positive row (bind ``positive``)."""
        return f"{_label_norm(self.label)} = ?"

    def counts(self, score: str, *, mode: CountingRequest = "auto", bins: int = DEFAULT_BINS,
               keys: Sequence[str] = (), sums: Sequence[str] = (), decisions: Sequence[str] = ()) -> ScoreCounts:
        """ScoreCounts of one score column (a GROUP BY in DuckDB).

        ``decisions`` names recorded-decision columns to key the cells by, as 0/1 (see
        :meth:`check_decisions`), so a status quo is counted in the same pass and resampled jointly.
        """
        if score not in self.table.columns:
            raise InputError(f"{self.file}: has no score column {score!r}; its columns are "
                             f"{', '.join(self.table.columns)}.")
        for column in decisions:
            self.check_decisions(column)
        return counts_from_table(
            self.table.con, TABLE, score=score, label_sql=self.label_sql, params=[self.positive],
            weight=self.weight, where=self.where, mode=mode, bins=bins, keys=[*keys, *decisions], sums=sums,
            key_sql={column: _decision_sql(column) for column in decisions})

    def check_decisions(self, column: str) -> None:
        """A recorded-decision column holds 1/0, true/false or yes/no in every row in use; InputError lists
        the rows that do not."""
        self.require_column(column, "decision")
        bad = f"{quote(column)} IS NULL OR {_label_norm(column)} NOT IN ({', '.join('?' * len(_DECISION_VALUES))})"
        count, shown = _offending(self.table, bad, column, self.where, list(_DECISION_VALUES))
        if count:
            raise InputError(f"{self.file}: decision column {column!r} should hold 1/0, true/false or yes/no "
                             f"for every row, but holds other values ({shown}). Fix those rows.")

    def require_column(self, column: str, role: str) -> None:
        if column not in self.table.columns:
            raise InputError(f"{self.file}: has no column {column!r} (named as a {role} column). Its columns "
                             f"are: {', '.join(self.table.columns)}.")

    def require_numbers(self, column: str, role: str) -> None:
        """A value column (an amount): present, numeric, and filled in every row in use."""
        self.require_column(column, role)
        _check_numbers(self.table, column, role)
        count, shown = _offending(self.table, _is_missing(column), column, self.where)
        if count:
            raise InputError(_missing_message(self.table, column, role, count, shown))

    def flagged(self, score: str, threshold: float) -> pd.DataFrame:
        """The work list: every row in use with ``score >= threshold``, highest score first, all its columns
        (ids and extras included) and its spreadsheet row number."""
        self.require_column(score, "score")
        return self.table.con.execute(
            f"SELECT {SPREADSHEET_ROW} AS \"row\", * FROM {TABLE} WHERE {self.where} AND {_number(score)} >= ? "
            f"ORDER BY {_number(score)} DESC, rowid", [threshold]).df()

    def preview(self, limit: int = 20) -> pd.DataFrame:
        """The first rows in use, every column, with their spreadsheet row numbers as the index."""
        frame = self.table.con.execute(
            f"SELECT {SPREADSHEET_ROW} AS \"row\", * FROM {TABLE} WHERE {self.where} ORDER BY rowid "
            f"LIMIT {int(limit)}").df()
        return frame.set_index("row")

    def profile(self) -> dict[str, Any]:
        """Rows, positives and, per score column, its range and missing count (of the whole file)."""
        con, positive = self.table.con, self.positive
        positives = (con.execute(f"SELECT count(*) FROM {TABLE} WHERE {self.where} AND {self.label_sql}",
                                 [positive]).fetchone() or (0,))[0]
        scores = {}
        for score in self.scores:
            low, high, missing = con.execute(
                f"SELECT min({_number(score)}), max({_number(score)}), count(*) FILTER ({_is_missing(score)}) "
                f"FROM {TABLE}").fetchone() or (None, None, 0)
            scores[score] = {"min": low, "max": high, "missing": int(missing)}
        return {"file": self.file, "rows_in_file": self.table.n_rows, "rows": self.rows,
                "dropped_rows": self.dropped_rows, "positive_rows": int(positives), "label": self.label,
                "positive": self.positive, "weight": self.weight, "scores": scores}


def _validate_label(table: Table, label: str, positive: str | None, where: str) -> str:
    values = [str(row[0]) for row in table.con.execute(
        f"SELECT DISTINCT {_label_norm(label)} FROM {TABLE} WHERE {where} AND {quote(label)} IS NOT NULL "
        "ORDER BY 1 LIMIT 12").fetchall()]
    if len(values) > 2:
        places = []
        for value in values[:6]:
            rows = [r[0] for r in table.con.execute(
                f"SELECT {SPREADSHEET_ROW} FROM {TABLE} WHERE {where} AND {_label_norm(label)} = ? "
                "ORDER BY rowid LIMIT 3", [value]).fetchall()]
            places.append(f"{value!r} (row {', '.join(map(str, rows))})")
        raise InputError(f"{table.name}: label column {label!r} holds more than two values: "
                         f"{'; '.join(places)}{'; ...' if len(values) > 6 else ''}. A label has two values "
                         "(the positive class and the rest): recode it, or choose another column with --label.")
    return resolve_positive(values, positive, file=table.name, column=label)


def _validate_weight(table: Table, weight: str, where: str) -> None:
    _check_numbers(table, weight, "weight")
    count, shown = _offending(table, f"{_number(weight)} < 0", weight, where)
    if count:
        raise InputError(f"{table.name}: weight column {weight!r} holds negative values ({shown}). A weight "
                         "says how many items a row stands for: use zero or more.")


def load_predictions(
    path: str | Path,
    *,
    name: str | None = None,
    label: str | None = None,
    scores: Sequence[str] = (),
    positive: str | None = None,
    weight: str | None = None,
    id: str | None = None,
    drop_missing: bool = False,
    exclude: Sequence[str] = (),
) -> Predictions:
    """Read and validate a predictions file; see :func:`choose_columns` for how columns are guessed.

    Rows with a missing label, score or weight are refused with their row numbers, or dropped (and
    counted in ``dropped_rows`` and a note) with ``drop_missing``. ``exclude`` names columns that are never
    guessed as label or scores (those a scenario names).
    """
    table = read_table(path, name=name)
    choice = choose_columns(table, label=label, scores=tuple(scores), weight=weight, id=id, exclude=exclude)
    for score in choice.scores:
        _check_numbers(table, score, "score")
    required = [(choice.label, "label"), *((s, "score") for s in choice.scores)]
    if choice.weight:
        required.append((choice.weight, "weight"))
    missing_any = " OR ".join(_is_missing(c) if r != "label" else f"{quote(c)} IS NULL" for c, r in required)
    notes = list(choice.notes)
    where, dropped = "TRUE", 0
    for column, role in required:
        condition = f"{quote(column)} IS NULL" if role == "label" else _is_missing(column)
        count, shown = _offending(table, condition, column)
        if count and not drop_missing:
            raise InputError(_missing_message(table, column, role, count, shown))
    if drop_missing:
        where = f"NOT ({missing_any})"
        dropped = int((table.con.execute(f"SELECT count(*) FROM {TABLE} WHERE {missing_any}").fetchone()
                       or (0,))[0])
        if dropped:
            notes.append(f"dropped {dropped} row{'s' if dropped > 1 else ''} with a missing label, score or "
                         "weight")
        if dropped == table.n_rows:
            raise InputError(f"{table.name}: every row has a missing label, score or weight; nothing is left "
                             "to evaluate.")
    positive_value = _validate_label(table, choice.label, positive, where)
    if choice.weight:
        _validate_weight(table, choice.weight, where)
    warnings = []
    classes = table.con.execute(
        f"SELECT count(*) FILTER ({_label_norm(choice.label)} = ?), count(*) FROM {TABLE} WHERE {where}",
        [positive_value]).fetchone() or (0, 0)
    if classes[0] in (0, classes[1]):
        kind = "negative" if classes[0] == 0 else "positive"
        warnings.append(f"{table.name}: every row of label column {choice.label!r} is {kind}: ROC AUC and "
                        "the rates that need both classes are left empty.")
    return Predictions(table=table, label=choice.label, positive=positive_value, scores=choice.scores,
                       weight=choice.weight, id=choice.id, notes=tuple(notes), warnings=tuple(warnings),
                       dropped_rows=dropped, where=where)
