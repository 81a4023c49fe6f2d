"""Predictions: a validated file of labels and one or more models' scores, ready to count.

Every check runs in DuckDB over the whole column. Their figures come from the column profiles made to choose
the columns (one scan: counts, ranges, the label's values) when those settle them, else from one aggregate
scan and one GROUP BY of the label; only a check that fails goes back for its first offending rows, which it
reports by their spreadsheet row number, with their values, so a user can find and fix them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metricbridge.counts import ScoreCounts
from metricbridge.errors import InputError
from metricbridge.limits import LIMITS
from metricbridge.loading.builders import DEFAULT_BINS, CountingRequest, Progress, counts_from_table, quote, scaled
from metricbridge.loading.columns import ColumnProfile, choose_columns, value_groups
from metricbridge.loading.labels import resolve_positive
from metricbridge.loading.reading import TABLE, Table, read_table

if TYPE_CHECKING:  # pandas only for the preview and the work list: loading and counting never need it
    import pandas as pd

__all__ = ["Predictions", "load_predictions", "predictions_of", "MAX_ROWS_SHOWN", "FLAG_SQL", "decision_sql"]

MAX_ROWS_SHOWN = 5
FLAG_SQL = "{score} >= ?"  # the threshold rule (metricbridge.counts.flags) in SQL; bind the threshold
_FLAGGED = ("1", "1.0", "true", "yes", "y", "t")  # a recorded decision that acted on the item
_DECISION_VALUES = (*_FLAGGED, "0", "0.0", "false", "no", "n", "f")


def _label_norm(column: str) -> str:
    return f"lower(trim(CAST({quote(column)} AS VARCHAR)))"


def _number(column: str) -> str:
    """The column as DOUBLE; text that is no number becomes NULL (and is reported before use)."""
    return f"TRY_CAST({quote(column)} AS DOUBLE)"


def _decision_sql(column: str) -> str:
    """1 where a recorded decision acted on the item, else 0 (the spellings are constants, not data)."""
    return f"CAST(CASE WHEN {_any_of(_label_norm(column), [repr(v) for v in _FLAGGED])} THEN 1 ELSE 0 END AS TINYINT)"


def _any_of(expression: str, values: Sequence[str]) -> str:
    """``expression`` equal to one of ``values`` (SQL literals or ``?``), spelled as ORs: DuckDB plans a long
    ``IN (...)`` list as a join, which does not keep the rows' order, and the bin edges are placed from a
    sample drawn by row position, so the same file would give slightly different bins from run to run."""
    return "(" + " OR ".join(f"{expression} = {value}" for value in values) + ")"


decision_sql = _decision_sql  # public for the sources that count a view (metricbridge.sources)


def _is_missing(column: str) -> str:
    return f"({quote(column)} IS NULL OR isnan({_number(column)}))"


def _offending(table: Table, condition: str, column: str, where: str = "TRUE",
               params: Sequence[object] = (), count: int | None = None) -> tuple[int, str]:
    """How many rows meet ``condition`` (its values bound by ``params``; ``count`` when already known), and
    the first few as "row 7: 'abc'"."""
    if count is None:
        count = (table.con.execute(f"SELECT count(*) FROM {TABLE} WHERE ({where}) AND ({condition})",
                                   list(params)).fetchone() or (0,))[0]
    rows = table.con.execute(
        f"SELECT {table.spreadsheet_row}, CAST({quote(column)} AS VARCHAR) FROM {TABLE} WHERE ({where}) AND "
        f"({condition}) ORDER BY {table.row} LIMIT {MAX_ROWS_SHOWN}", list(params)).fetchall()
    shown = ", ".join(f"row {row}: {'(empty)' if value is None else repr(value)}" for row, value in rows)
    more = f" and {count - len(rows)} more" if count > len(rows) else ""
    return int(count), shown + more


def _not_a_number(table: Table, column: str) -> str:
    """Rows of a score or weight column that hold no finite number (infinite, or text that is no number)."""
    if table.is_numeric(column):
        return f"isinf({quote(column)}::DOUBLE)"
    return f"{quote(column)} IS NOT NULL AND ({_number(column)} IS NULL OR isinf({_number(column)}))"


def _raise_not_a_number(table: Table, column: str, role: str, count: int) -> None:
    _, shown = _offending(table, _not_a_number(table, column), column, count=count)
    if table.is_numeric(column):
        bounds = (f" from 0 to {LIMITS.weight:g} (limits.weight)" if role == "weight" else
                  f" within ±{LIMITS.amount:g} (limits.amount)" if role.startswith("value") else "")
        raise InputError(f"{table.name}: {role} column {column!r} holds infinite values ({shown}). Replace "
                         f"them with finite numbers{bounds} and upload again.")
    comma = (" They look like numbers written with a decimal comma: export the file with a decimal point (0.5, "
             "not 0,5).") if re.search(r"row \d+: '-?\d*,\d+'", shown) else ""
    raise InputError(f"{table.name}: {role} column {column!r} holds text where a number is expected "
                     f"({shown}). Fix or remove those rows and upload again.{comma}")


def _check_numbers(table: Table, column: str, role: str) -> None:
    count = (table.con.execute(f"SELECT count_if({_not_a_number(table, column)}) FROM {TABLE}").fetchone()
             or (0,))[0]
    if count:
        _raise_not_a_number(table, column, role, int(count))


def _missing_message(table: Table, column: str, role: str, count: int, shown: str) -> str:
    return (f"{table.name}: {role} column {column!r} is empty in {count} row{'s' if count > 1 else ''} "
            f"({shown}). Fill them in, or drop those rows (--drop-missing, or the checkbox in the app).")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Predictions:
    """Labels and scores of one file, validated; ``where`` keeps the rows in use (others were dropped).

    ``positive`` is the normalised label value of the positive class; ``positive_values`` are the label
    column's own values that normalise to it (so counting compares values, not text), or None to compare
    the normalised text. ``extras`` are the file's other columns (ids, time, segments, recorded decisions),
    kept for later stages. ``positive_rows`` and ``score_ranges`` are what validation found (see
    :meth:`profile`); None has :meth:`profile` ask DuckDB.
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
    positive_values: tuple[object, ...] | None = None
    positive_rows: int | None = None
    score_ranges: Mapping[str, Mapping[str, Any]] | None = None
    labels_pending: bool = False  # rows without a label are kept (their labels have not arrived)
    checked: set[tuple[str, str]] = field(default_factory=set, repr=False)  # columns found good: not scanned again

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
        """SQL that is true for a positive row; bind :attr:`label_params`. A row whose label has not arrived
        (with ``labels_pending``) counts as negative: :attr:`labelled_sql` tells those rows apart."""
        if self.positive_values is None:
            sql = f"{_label_norm(self.label)} = ?"
        elif not self.positive_values:
            return "FALSE"  # the named positive class never occurs
        else:
            sql = _any_of(quote(self.label), ["?"] * len(self.positive_values))
        return f"coalesce({sql}, FALSE)" if self.labels_pending else sql

    @property
    def labelled_sql(self) -> str:
        """SQL giving 1 for a row with its label, 0 for one whose label has not arrived."""
        return f"CAST({quote(self.label)} IS NOT NULL AS TINYINT)"

    @property
    def label_params(self) -> list[object]:
        return [self.positive] if self.positive_values is None else list(self.positive_values)

    def counts(self, score: str, *, mode: CountingRequest = "auto", bins: int = DEFAULT_BINS,
               keys: Sequence[str] = (), sums: Sequence[str] = (), decisions: Sequence[str] = (),
               edges_at: Sequence[float] = (), key_sql: Mapping[str, str] | None = None,
               progress: Progress | None = None) -> ScoreCounts:
        """ScoreCounts of one score column (its columns in use fetched once from DuckDB, counted in numpy).

        ``decisions`` names recorded-decision columns to key the cells by, as 0/1 (see
        :meth:`check_decisions`), so a status quo is counted in the same pass and resampled jointly; in binned
        mode each of ``edges_at`` is a bin edge (a threshold whose figures must be exact).
        ``progress`` hears the fraction done with "reading SCORE", then "counting SCORE".
        """
        if score not in self.table.columns:
            raise InputError(f"{self.file}: has no score column {score!r}; its columns are "
                             f"{', '.join(self.table.columns)}.")
        for column in decisions:
            self.check_decisions(column)
        return counts_from_table(
            self.table.con, TABLE, score=score, label_sql=self.label_sql, params=self.label_params,
            weight=self.weight, where=self.where, mode=mode, bins=bins, keys=[*keys, *decisions], sums=sums,
            key_sql={column: _decision_sql(column) for column in decisions} | dict(key_sql or {}), edges_at=edges_at,
            progress=progress)

    def check_decisions(self, column: str) -> None:
        """A recorded-decision column holds 1/0, true/false or yes/no in every row in use; InputError lists
        the rows that do not."""
        if ("decision", column) in self.checked:
            return
        self.require_column(column, "decision")
        bad = f"{quote(column)} IS NULL OR {_label_norm(column)} NOT IN ({', '.join('?' * len(_DECISION_VALUES))})"
        count, shown = _offending(self.table, bad, column, self.where, list(_DECISION_VALUES))
        if count:
            raise InputError(f"{self.file}: decision column {column!r} should hold 1/0, true/false or yes/no "
                             f"for every row, but holds other values ({shown}). Fix those rows.")
        self.checked.add(("decision", column))

    def require_column(self, column: str, role: str) -> None:
        if column not in self.table.columns:
            raise InputError(f"{self.file}: has no column {column!r} (named as a {role} column). Its columns "
                             f"are: {', '.join(self.table.columns)}.")

    def require_numbers(self, column: str, role: str) -> None:
        """A value column (an amount): present, numeric, filled in every row in use, and no larger in size than
        ``limits.amount``."""
        if ("numbers", column) in self.checked:
            return
        self.require_column(column, role)
        _check_numbers(self.table, column, role)
        count, shown = _offending(self.table, _is_missing(column), column, self.where)
        if count:  # --drop-missing drops rows missing a label, score or weight, not an amount: not offered here
            raise InputError(
                f"{self.file}: {role} column {column!r} is empty in {count} row{'s' if count > 1 else ''} ({shown}). "
                "Fill them in (0 for an item worth nothing) or remove those rows, and upload again.")
        count, shown = _offending(self.table, f"abs({_number(column)}) > {LIMITS.amount!r}", column, self.where)
        if count:
            raise InputError(
                f"{self.file}: {role} column {column!r} holds amounts beyond ±{LIMITS.amount:g}, the limit of "
                f"limits.amount ({shown}). An amount is what one item is worth: check the column (a misplaced "
                "decimal point, an id taken for an amount), or state it in larger units (thousands), and upload "
                "again.")
        self.checked.add(("numbers", column))

    def flagged(self, score: str, threshold: float) -> pd.DataFrame:
        """The work list: every row in use with ``score >= threshold``, highest score first, all its columns
        (ids and extras included) and, first, its spreadsheet row number, in a column named "row" (or
        "row_2", ... when the file has a column of that name)."""
        self.require_column(score, "score")
        flag = FLAG_SQL.format(score=_number(score))
        table = self.table
        return table.con.execute(
            f"SELECT {table.spreadsheet_row} AS {quote(table.free_name('row'))}, {table.star} FROM {TABLE} WHERE "
            f"{self.where} AND {flag} ORDER BY {_number(score)} DESC, {table.row}", [threshold]).df()

    def preview(self, limit: int = 20) -> pd.DataFrame:
        """The first rows in use, every column, with their spreadsheet row numbers as the index (named "row";
        a column of the file may have that name too)."""
        table = self.table
        number = table.free_name("row")  # a name no column has, so DuckDB and pandas rename nothing
        frame = table.con.execute(
            f"SELECT {table.spreadsheet_row} AS {quote(number)}, {table.star} FROM {TABLE} WHERE {self.where} "
            f"ORDER BY {table.row} LIMIT {int(limit)}").df()
        frame = frame.set_index(number)
        frame.index.name = "row"
        return frame

    def profile(self) -> dict[str, Any]:
        """Rows, positives and, per score column, its range and missing count (of the whole file)."""
        positives, scores = self.positive_rows, self.score_ranges
        con = self.table.con
        if positives is None:
            positives = int((con.execute(f"SELECT count(*) FROM {TABLE} WHERE {self.where} AND {self.label_sql}",
                                         self.label_params).fetchone() or (0,))[0])
        if scores is None:
            scores = {}
            for score in self.scores:
                low, high, missing = con.execute(
                    f"SELECT min({_number(score)}), max({_number(score)}), count(*) FILTER ({_is_missing(score)}) "
                    f"FROM {TABLE}").fetchone() or (None, None, 0)
                scores[score] = {"min": low, "max": high, "missing": int(missing)}
        return {"file": self.file, "rows_in_file": self.table.n_rows, "rows": self.rows,
                "dropped_rows": self.dropped_rows, "positive_rows": int(positives), "label": self.label,
                "positive": self.positive, "weight": self.weight,
                "scores": {name: dict(figures) for name, figures in scores.items()}}


@dataclass(frozen=True, slots=True, kw_only=True)
class _LabelValues:
    """The label column's values in the rows in use: normalised, each with its own values and row count."""

    values: list[str]  # normalised, sorted; at most 12
    raw: dict[str, tuple[object, ...]]
    rows: dict[str, int]

    @classmethod
    def of(cls, groups: Sequence[tuple[str, tuple[Any, ...], int]]) -> _LabelValues:
        return cls(values=[norm for norm, _, _ in groups], raw={norm: raw for norm, raw, _ in groups},
                   rows={norm: rows for norm, _, rows in groups})


def _validate_label(table: Table, label: str, positive: str | None, where: str,
                    profile: ColumnProfile | None) -> tuple[str, _LabelValues]:
    groups = profile.groups if profile is not None and where == "TRUE" else None
    found = _LabelValues.of(value_groups(table, label, where) if groups is None else groups)
    values = found.values
    if len(values) > 2:
        places = []
        for value in values[:6]:
            rows = [r[0] for r in table.con.execute(
                f"SELECT {table.spreadsheet_row} FROM {TABLE} WHERE {where} AND {_label_norm(label)} = ? "
                f"ORDER BY {table.row} LIMIT 3", [value]).fetchall()]
            places.append(f"{value!r} (row {', '.join(map(str, rows))})")
        raise InputError(f"{table.name}: label column {label!r} holds more than two values: "
                         f"{'; '.join(places)}{'; ...' if len(values) > 6 else ''}. A label has two values "
                         "(the positive class and the rest): recode it, or choose another column with --label.")
    return resolve_positive(values, positive, file=table.name, column=label), found


def _weight_message(table: Table, weight: str, where: str, count: int) -> str:
    _, shown = _offending(table, f"{_number(weight)} < 0", weight, where, count=count)
    return (f"{table.name}: weight column {weight!r} holds negative values ({shown}). A weight "
            "says how many items a row stands for: use zero or more.")


_ABOVE_WEIGHT = f"> {LIMITS.weight!r}"  # a constant of the code, not data


def _weight_limit_message(table: Table, weight: str, where: str, count: int) -> str:
    _, shown = _offending(table, f"{_number(weight)} {_ABOVE_WEIGHT}", weight, where, count=count)
    return (f"{table.name}: weight column {weight!r} holds weights above {LIMITS.weight:g}, the limit of "
            f"limits.weight ({shown}). A weight says how many items one row stands for: check the column (an id "
            "or an amount taken for a weight), or divide every weight by the same number (rates and metrics stay "
            "the same), and upload again.")


def _profiled(table: Table, required: Sequence[tuple[str, str]], profiles: Mapping[str, ColumnProfile],
              weight: str | None) -> dict[str, Any] | None:
    """The figures of the checks, from the column profiles, when they settle them (numeric columns with no
    NaN, infinite or negative weight, which their ranges show); None when a scan must count them."""
    found: dict[str, Any] = {}
    for index, (column, role) in enumerate(required):
        profile = profiles.get(column)
        if profile is None or (role != "label" and not profile.numeric):
            return None
        low, high = profile.low, profile.high
        if role != "label" and ((high is not None and math.isnan(high)) or low == -math.inf or high == math.inf):
            return None  # NaN (the highest value to DuckDB) or infinite values: count them
        found[f"missing {index}"] = table.n_rows - profile.non_null
        found[f"not a number {index}"] = 0
        found[f"low {index}"], found[f"high {index}"] = low, high
    if weight is not None:
        low, high = profiles[weight].low, profiles[weight].high
        if (low is not None and low < 0) or (high is not None and high > LIMITS.weight):
            return None
        found["negative weights"] = found["weights above"] = 0
        found["highest weight"] = high
    return found


def _scan(table: Table, figures: Mapping[str, str]) -> dict[str, Any]:
    """Every figure (name: SQL aggregate) in one scan of the table."""
    names = list(figures)
    row = table.con.execute(
        f"SELECT {', '.join(figures[name] for name in names)} FROM {TABLE}").fetchone() or (None,) * len(names)
    return dict(zip(names, row, strict=True))


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
    labels_pending: bool = False,
    progress: Progress | None = None,
) -> Predictions:
    """Read and validate a predictions file; see :func:`choose_columns` for how columns are guessed.

    Rows with a missing label, score or weight are refused with their row numbers, or dropped (and
    counted in ``dropped_rows`` and a note) with ``drop_missing``. ``exclude`` names columns that are never
    guessed as label or scores (those a scenario names). With ``labels_pending`` a missing label is no error:
    the row's label has not arrived (monitoring), it counts as negative and :attr:`Predictions.labelled_sql`
    marks it. ``progress`` hears the fraction done with
    "reading FILE", then "checking FILE".
    """
    table = read_table(path, name=name, progress=scaled(progress, 0.0, 0.75))
    return predictions_of(table, label=label, scores=scores, positive=positive, weight=weight, id=id,
                          drop_missing=drop_missing, exclude=exclude, labels_pending=labels_pending,
                          progress=scaled(progress, 0.75, 1.0))


def predictions_of(
    table: Table,
    *,
    label: str | None = None,
    scores: Sequence[str] = (),
    positive: str | None = None,
    weight: str | None = None,
    id: str | None = None,
    drop_missing: bool = False,
    exclude: Sequence[str] = (),
    labels_pending: bool = False,
    progress: Progress | None = None,
) -> Predictions:
    """Validate a table already read (a file's, or a view of data read in place): :func:`load_predictions`
    without the reading. ``progress`` hears the fraction done with "checking NAME"."""
    checking = f"checking {table.name.strip(chr(39))}"
    if progress:
        progress(0.0, checking)
    choice = choose_columns(table, label=label, scores=tuple(scores), weight=weight, id=id, exclude=exclude)
    if progress:
        progress(0.4, checking)
    required = [(choice.label, "label"), *((s, "score") for s in choice.scores)]
    if choice.weight:
        required.append((choice.weight, "weight"))
    missing = {column: ("FALSE" if labels_pending else f"{quote(column)} IS NULL") if role == "label" else
               _is_missing(column) for column, role in required}
    missing_any = " OR ".join(missing.values())
    where = f"NOT ({missing_any})" if drop_missing else "TRUE"
    # every figure the checks need, in one scan: columns are referred to by position (a column may have two roles)
    aggregates: dict[str, str] = {}
    for index, (column, role) in enumerate(required):
        aggregates[f"missing {index}"] = f"count_if({missing[column]})"
        if role != "label":
            aggregates[f"not a number {index}"] = f"count_if({_not_a_number(table, column)})"
        if role == "score":
            aggregates[f"low {index}"] = f"min({_number(column)})"
            aggregates[f"high {index}"] = f"max({_number(column)})"
    if choice.weight:
        aggregates["negative weights"] = f"count_if(({where}) AND {_number(choice.weight)} < 0)"
        aggregates["weights above"] = f"count_if(({where}) AND {_number(choice.weight)} {_ABOVE_WEIGHT})"
        aggregates["highest weight"] = f"max({_number(choice.weight)}) FILTER (WHERE {where})"
    if drop_missing:
        aggregates["dropped"] = f"count_if({missing_any})"
    found = _profiled(table, required, choice.profiles, choice.weight) if not drop_missing else None
    if found is None:
        found = _scan(table, aggregates)
    for index, (column, role) in enumerate(required):
        if role == "score" and found[f"not a number {index}"]:
            _raise_not_a_number(table, column, "score", int(found[f"not a number {index}"]))
    for index, (column, role) in enumerate(required):
        count = int(found[f"missing {index}"])
        if role == "label" and labels_pending:
            continue  # their labels have not arrived: kept, and marked by labelled_sql
        if count and not drop_missing:
            _, shown = _offending(table, missing[column], column, count=count)
            raise InputError(_missing_message(table, column, role, count, shown))
    notes = [*table.notes, *choice.notes]
    dropped = 0
    if drop_missing:
        dropped = int(found["dropped"])
        if dropped:
            notes.append(f"dropped {dropped} row{'s' if dropped > 1 else ''} with a missing label, score or "
                         "weight")
        if dropped == table.n_rows:
            raise InputError(f"{table.name}: every row has a missing label, score or weight; nothing is left "
                             "to evaluate.")
    labelled = f"({where}) AND {quote(choice.label)} IS NOT NULL" if labels_pending else where
    positive_value, label_values = _validate_label(table, choice.label, positive, labelled,
                                                   choice.profiles.get(choice.label))
    if choice.weight:
        index = len(required) - 1
        if found[f"not a number {index}"]:
            _raise_not_a_number(table, choice.weight, "weight", int(found[f"not a number {index}"]))
        if found["negative weights"]:
            raise InputError(_weight_message(table, choice.weight, where, int(found["negative weights"])))
        if found["weights above"]:
            raise InputError(_weight_limit_message(table, choice.weight, where, int(found["weights above"])))
        if found["highest weight"] == 0:
            rows = table.n_rows - dropped
            raise InputError(
                f"{table.name}: weight column {choice.weight!r} is 0 in every row{' in use' if dropped else ''} "
                f"({rows:,} row{'s' if rows > 1 else ''}): they stand for no items, so there is nothing to "
                "evaluate. Check that --weight names the weight column (without it, every row counts once).")
    positive_rows = label_values.rows.get(positive_value, 0)
    warnings = []
    if positive_rows in (0, sum(label_values.rows.values())):
        kind = "negative" if positive_rows == 0 else "positive"
        warnings.append(f"{table.name}: every row of label column {choice.label!r} is {kind}: ROC AUC and "
                        "the rates that need both classes are left empty.")
    by_value = table.is_plain(choice.label)
    score_ranges = {column: {"min": found[f"low {index}"], "max": found[f"high {index}"],
                             "missing": int(found[f"missing {index}"])}
                    for index, (column, role) in enumerate(required) if role == "score"}
    if progress:
        progress(1.0, checking)
    return Predictions(table=table, label=choice.label, positive=positive_value, scores=choice.scores,
                       weight=choice.weight, id=choice.id, notes=tuple(notes), warnings=tuple(warnings),
                       dropped_rows=dropped, where=where,
                       positive_values=label_values.raw.get(positive_value, ()) if by_value else None,
                       positive_rows=positive_rows, score_ranges=score_ranges, labels_pending=labels_pending)
