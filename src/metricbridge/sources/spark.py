"""ScoreCounts from a Spark DataFrame: a ``groupBy`` over (score or score bin, label, keys) run by Spark, its
few cells collected and assembled on the driver, so billions of rows never leave the cluster.

The cells are those the local path counts from the same rows (:func:`metricbridge.loading.counts_from_arrays`,
which a DuckDB file goes through too): exact mode groups by the distinct score; binned mode by the score's bin,
found in Spark by a binary search over the same edges (``pyspark.ml.feature.Bucketizer``), which gives
``searchsorted(edges, score, side="right") - 1`` as :class:`metricbridge.loading.BinLookup` does. The edges follow
a sample of the scores as the local path's do; up to ``EDGE_SAMPLE`` rows the sample is every row, so small data
gives the local path's edges exactly. Sums of floats are added in Spark's order, so they agree with the local
path's to rounding (about 1e-12 relative), counts exactly.

pyspark is imported only when a function here runs: ``import metricbridge.sources.spark`` works without it,
and using it then says how to install it (``pip install 'metricbridge[spark]'``). Spark 4 needs Java 17 or 21.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from metricbridge.counts import ScoreCounts, scaled_progress
from metricbridge.errors import InputError, MetricBridgeError, ScenarioError
from metricbridge.limits import DEFAULT_RESAMPLES, LIMITS
from metricbridge.loading.builders import AUTO_BINNED_ABOVE, DEFAULT_BINS, EDGE_SAMPLE, CountingRequest, Progress
from metricbridge.loading.labels import normalise, resolve_positive
from metricbridge.loading.predictions import _DECISION_VALUES, _FLAGGED
from metricbridge.sources.grouped import choose_counting, counts_from_groups, edges_from_samples, group_aggregates
from metricbridge.uncertainty import DEFAULT_BAND_BINS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from metricbridge.criteria import Criteria
    from metricbridge.curve import ThresholdCurve
    from metricbridge.evaluate import EvaluationReport
    from metricbridge.scenario import Scenario

__all__ = ["EXACT_SCORES_LIMIT", "evaluate_spark", "local_session", "spark_counts"]

EXACT_SCORES_LIMIT = 2_000_000  # distinct scores exact mode collects to the driver (a cell per score and label)
_SAMPLE_SLACK = 1.2  # rows sampled per row wanted, so a Bernoulli sample seldom falls short of EDGE_SAMPLE
_SHOWN = 3  # offending values a message shows
_MAX_LABEL_VALUES = 12  # distinct label values fetched to tell what the label column holds


def _spark() -> Any:
    """``pyspark.sql.functions``, or a MetricBridgeError saying how to install pyspark."""
    try:
        from pyspark.sql import functions
    except ImportError as error:
        raise MetricBridgeError(
            "counting a Spark DataFrame needs pyspark, which is not installed: pip install 'metricbridge[spark]' "
            "(Spark also needs a Java runtime, 17 or 21).") from error
    return functions


def local_session(*, cores: int = 2, memory: str = "1g", shuffle_partitions: int = 4,
                  app: str = "metricbridge") -> SparkSession:
    """A Spark session on this machine alone: ``local[cores]``, bound to 127.0.0.1, no web UI, no console
    progress bar, ``shuffle_partitions`` partitions after a shuffle (Spark's 200 suit a cluster, not a laptop),
    ``memory`` for the driver (which, in local mode, is the whole of Spark). Nothing is downloaded: no
    ``spark.jars.packages``. Returns the running session if there is one (its settings then stay as they are)."""
    _spark()
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master(f"local[{int(cores)}]").appName(app)
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(int(shuffle_partitions)))
               .config("spark.driver.memory", memory).getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


# -- checking ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class _Checked:
    """A DataFrame whose columns in use were checked (one scan, its aggregates grouped by the label)."""

    frame: DataFrame  # the rows in use (missing ones dropped when asked)
    file: str  # how messages name the data, quoted as the loader quotes a file name
    label: str
    positive: str  # the normalised positive value
    positive_values: tuple[Any, ...]  # the label column's own values that normalise to it
    rows_in_file: int
    rows: int
    dropped_rows: int
    positive_rows: int
    ranges: dict[str, dict[str, Any]]  # per score column: min, max, missing (null or NaN) in the whole frame
    counted: dict[str, tuple[float, float]]  # per score column: its lowest and highest score in the rows in use
    distinct: dict[str, int | None]  # per score column: at most about twice its distinct scores, when counted

    def label_column(self) -> Column:
        """1 for a positive row, else 0 (tinyint)."""
        functions = _spark()
        if not self.positive_values:
            return functions.lit(0).cast("tinyint")
        return _ref(self.label).isin(list(self.positive_values)).cast("tinyint")


def _numeric(df: DataFrame, column: str) -> bool:
    from pyspark.sql.types import NumericType

    return isinstance(df.schema[column].dataType, NumericType)


def _require(df: DataFrame, file: str, column: str, role: str, *, number: bool) -> None:
    if column not in df.columns:
        raise InputError(f"{file}: has no column {column!r} (named as the {role} column). Its columns are: "
                         f"{', '.join(df.columns)}.")
    if number and not _numeric(df, column):
        kind = df.schema[column].dataType.simpleString()
        raise InputError(f"{file}: {role} column {column!r} holds {kind} values, not numbers: cast it to a number "
                         f"(df.withColumn({column!r}, F.col({column!r}).cast('double'))), or name another column.")


def _ref(column: str) -> Column:
    """A column by its name, backquoted: a name is data (``F.col("a.b")`` would read a field of a struct)."""
    return _spark().col("`" + column.replace("`", "``") + "`")


def _as_double(column: str) -> Column:
    return _ref(column).cast("double")


def _missing(df: DataFrame, column: str) -> Column:
    """Null, or NaN in a number column: what the local loader calls an empty cell."""
    functions = _spark()
    found = _ref(column).isNull()
    return found | functions.isnan(_as_double(column)) if _numeric(df, column) else found


def _examples(frame: DataFrame, condition: Column, column: str) -> str:
    """The first few values of ``column`` where ``condition`` holds, as "7.0, -1.0, inf" (one more Spark job,
    run only when a check has failed)."""
    rows = frame.where(condition).select(_ref(column)).limit(_SHOWN).collect()
    return ", ".join("(empty)" if row[0] is None else repr(row[0]) for row in rows)


def _rows(count: int) -> str:
    return f"{count:,} row{'s' if count != 1 else ''}"


def _decision_text(column: str) -> Column:
    functions = _spark()
    return functions.lower(functions.trim(_ref(column).cast("string")))


def _decision_key(column: str) -> Column:
    """1 where a recorded decision acted on the item, else 0 (tinyint), as the local loader codes it."""
    functions = _spark()
    return functions.when(_decision_text(column).isin(list(_FLAGGED)), 1).otherwise(0).cast("tinyint")


def _checked(df: DataFrame, *, file: str, label: str, scores: Sequence[str], weight: str | None,
             sums: Sequence[str], decisions: Sequence[str], positive: str | None, drop_missing: bool,
             count_distinct: bool) -> _Checked:
    """The checks of the local loader, as Spark aggregates in one scan (a GROUP BY of the label).

    InputError names the column and shows a few offending values: labels with more than two values (or none
    that can safely be told positive, see :func:`resolve_positive`), missing labels, scores or weights (unless
    ``drop_missing``), scores that are infinite, weights that are negative, infinite, above ``limits.weight``
    or zero in every row, value columns that are missing or beyond ``limits.amount``, and decision columns
    holding something else than 1/0, true/false or yes/no.
    """
    functions = _spark()
    _require(df, file, label, "label", number=False)
    for score in scores:
        _require(df, file, score, "score", number=True)
        if score == label:
            raise InputError(f"{file}: column {label!r} cannot be both the label and a score.")
    if weight is not None:
        _require(df, file, weight, "weight", number=True)
    for name in sums:
        _require(df, file, name, "value", number=True)
    for decision in decisions:
        _require(df, file, decision, "decision", number=False)
    required = [(label, "label"), *((score, "score") for score in scores)]
    required += [] if weight is None else [(weight, "weight")]
    missing_any = functions.lit(False)
    for column, _ in required:
        missing_any = missing_any | _missing(df, column)
    in_use = ~missing_any if drop_missing else functions.lit(True)

    figures: dict[str, Column] = {}
    lowest: set[str] = set()  # figures whose total is the least of the label values' (the others: the greatest,
    highest: set[str] = set()  # or the sum)

    def count(name: str, condition: Column, *, rows: Column | None = None) -> None:
        figures[name] = functions.count(functions.when((in_use if rows is None else rows) & condition, 1))

    def extreme(name: str, value: Column, *, least: bool) -> None:
        figures[name] = (functions.min if least else functions.max)(value)
        (lowest if least else highest).add(name)

    count("rows", functions.lit(True), rows=functions.lit(True))
    count("in use", functions.lit(True))
    for index, (column, _) in enumerate(required):
        count(f"missing {index}", _missing(df, column), rows=functions.lit(True))
    infinite = functions.lit(float("inf"))
    for score in scores:
        value, present = _as_double(score), ~_missing(df, score)
        count(f"infinite {score}", functions.abs(value) == infinite)
        extreme(f"low {score}", functions.when(present, value), least=True)
        extreme(f"high {score}", functions.when(present, value), least=False)
        extreme(f"low in use {score}", functions.when(in_use & present, value), least=True)
        extreme(f"high in use {score}", functions.when(in_use & present, value), least=False)
        if count_distinct:  # per label value, so their sum is at most twice the distinct scores
            figures[f"distinct {score}"] = functions.approx_count_distinct(functions.when(in_use, value))
    if weight is not None:
        value = _as_double(weight)
        count("negative weights", value < 0)
        count("weights above", value > LIMITS.weight)  # infinite ones too
        extreme("highest weight", functions.when(in_use & ~_missing(df, weight), value), least=False)
    for name in sums:
        value = _as_double(name)
        count(f"missing value {name}", _missing(df, name))
        count(f"beyond {name}", functions.abs(value) > LIMITS.amount)
    for decision in decisions:
        count(f"undecided {decision}", _ref(decision).isNull() | ~_decision_text(decision).isin(list(_DECISION_VALUES)))
    # one scan: every figure per label value (so the label's values come with them), added up here; a label of
    # many values (a wrong column) is refused from its first few, so only those are fetched
    groups = (df.groupBy(_ref(label).alias("value"))
              .agg(*(figure.alias(f"f{i}") for i, figure in enumerate(figures.values())))
              .limit(4 * _MAX_LABEL_VALUES).collect())
    found: dict[str, Any] = {}
    for index, name in enumerate(figures):
        values = [group[f"f{index}"] for group in groups if group[f"f{index}"] is not None]
        found[name] = (min(values, default=None) if name in lowest else max(values, default=None)
                       if name in highest else sum(values))
    in_use_rows = list(figures).index("in use")
    label_rows = [(group["value"], int(group[f"f{in_use_rows}"])) for group in groups]
    rows_in_file, rows = int(found["rows"]), int(found["in use"])
    if rows_in_file == 0:
        raise InputError(f"{file}: the DataFrame has no rows; there is nothing to evaluate.")
    frame = df.where(in_use) if drop_missing else df
    for score in scores:
        if found[f"infinite {score}"]:
            condition = functions.abs(_as_double(score)) == infinite
            raise InputError(f"{file}: score column {score!r} holds infinite values in "
                             f"{_rows(found[f'infinite {score}'])} ({_examples(frame, condition, score)}). Replace "
                             "them with finite numbers, or drop those rows.")
    for index, (column, role) in enumerate(required):
        missing = int(found[f"missing {index}"])
        if missing and not drop_missing:
            raise InputError(
                f"{file}: {role} column {column!r} is empty (null or NaN) in {_rows(missing)}. Fill them in, or drop "
                f"those rows (drop_missing=True, --drop-missing, or df.dropna(subset=[{column!r}])).")
    if drop_missing and rows == 0:
        raise InputError(f"{file}: every row has a missing label, score or weight; nothing is left to evaluate.")
    positive_value, raw, positive_rows = _label_values(label_rows, file, label, positive)
    if weight is not None:
        value = _as_double(weight)
        if found["negative weights"]:
            raise InputError(f"{file}: weight column {weight!r} holds negative values in "
                             f"{_rows(found['negative weights'])} ({_examples(frame, value < 0, weight)}). A weight "
                             "says how many items a row stands for: use zero or more.")
        if found["weights above"]:
            raise InputError(
                f"{file}: weight column {weight!r} holds weights above {LIMITS.weight:g}, the limit of limits.weight, "
                f"in {_rows(found['weights above'])} ({_examples(frame, value > LIMITS.weight, weight)}). A weight "
                "says how many items one row stands for: check the column, or divide every weight by the same "
                "number (rates and metrics stay the same).")
        if found["highest weight"] == 0:
            raise InputError(f"{file}: weight column {weight!r} is 0 in every row in use ({_rows(rows)}): they "
                             "stand for no items, so there is nothing to evaluate. Check that the weight column is "
                             "the one meant (without one, every row counts once).")
    for name in sums:
        if found[f"missing value {name}"]:
            raise InputError(f"{file}: value column {name!r} is empty (null or NaN) in "
                             f"{_rows(found[f'missing value {name}'])}. Fill them in (0 for an item worth nothing), "
                             "or drop those rows.")
        if found[f"beyond {name}"]:
            beyond = functions.abs(_as_double(name)) > LIMITS.amount
            raise InputError(f"{file}: value column {name!r} holds amounts beyond ±{LIMITS.amount:g}, the limit of "
                             f"limits.amount, in {_rows(found[f'beyond {name}'])} ({_examples(frame, beyond, name)}). "
                             "An amount is what one item is worth: check the column, or state it in larger units.")
    for decision in decisions:
        if found[f"undecided {decision}"]:
            bad = _ref(decision).isNull() | ~_decision_text(decision).isin(list(_DECISION_VALUES))
            raise InputError(f"{file}: decision column {decision!r} should hold 1/0, true/false or yes/no for every "
                             f"row, but holds other values in {_rows(found[f'undecided {decision}'])} "
                             f"({_examples(frame, bad, decision)}). Fix those rows.")
    ranges = {score: {"min": found[f"low {score}"], "max": found[f"high {score}"],
                      "missing": int(found[f"missing {1 + index}"])} for index, score in enumerate(scores)}
    counted = {score: (float(found[f"low in use {score}"]), float(found[f"high in use {score}"])) for score in scores}
    distinct = {score: (int(found[f"distinct {score}"]) if count_distinct else None) for score in scores}
    return _Checked(frame=frame, file=file, label=label, positive=positive_value, positive_values=raw,
                    rows_in_file=rows_in_file, rows=rows, dropped_rows=rows_in_file - rows,
                    positive_rows=positive_rows, ranges=ranges, counted=counted, distinct=distinct)


def _label_values(found: Sequence[tuple[Any, int]], file: str, label: str,
                  positive: str | None) -> tuple[str, tuple[Any, ...], int]:
    """The normalised positive value, the label's own values that normalise to it, and its rows, from each
    value of the label column with its rows in use."""
    raw: dict[str, list[Any]] = {}
    rows: dict[str, int] = {}
    for value, count in found:
        if value is None or not count:  # missing (refused before, or dropped), or only in rows dropped
            continue
        norm = normalise(value)
        raw.setdefault(norm, []).append(value)
        rows[norm] = rows.get(norm, 0) + count
    values = sorted(raw)
    if len(values) > 2:
        shown = ", ".join(repr(value) for value in values[:6])
        raise InputError(f"{file}: label column {label!r} holds more than two values: {shown}"
                         f"{', ...' if len(values) > 6 else ''}. A label has two values (the positive class and the "
                         "rest): recode it (for example F.col(...) == 'fraud'), or name another label column.")
    chosen = resolve_positive(values, positive, file=file, column=label)
    return chosen, tuple(raw.get(chosen, ())), rows.get(chosen, 0)


# -- counting -------------------------------------------------------------------------------------------------

def _arrays(table: Any) -> dict[str, np.ndarray]:
    """Every column of a pyarrow Table as numpy (numbers without missing values keep their type)."""
    return {name: np.asarray(table.column(name).to_numpy()) for name in table.column_names}


def _collected(frame: DataFrame) -> dict[str, np.ndarray]:
    """A small DataFrame on the driver, column by column (Arrow from Spark 4; rows before)."""
    if hasattr(frame, "toArrow"):
        return _arrays(frame.toArrow())
    rows = frame.collect()
    return {name: np.asarray([row[index] for row in rows]) for index, name in enumerate(frame.columns)}


def _edge_samples(frame: DataFrame, rows: int, positive_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores to place the bin edges by, and positives' scores, as the local path samples them: every row and
    every positive up to EDGE_SAMPLE of them, beyond that a seeded sample of EDGE_SAMPLE (a random one of all
    scores, an evenly spaced one of the positives' scores)."""
    functions = _spark()
    if rows <= EDGE_SAMPLE:
        got = _collected(frame.select("s", "y"))
        return got["s"], got["s"][got["y"] == 1]
    share = min(1.0, _SAMPLE_SLACK * EDGE_SAMPLE / rows)
    positive_share = min(1.0, _SAMPLE_SLACK * EDGE_SAMPLE / max(positive_rows, 1))
    draw, col = functions.rand(0), functions.col
    kept = (col("u") < share) | ((col("y") == 1) & (col("u") < positive_share))
    got = _collected(frame.select("s", "y", draw.alias("u")).where(kept))
    scores, labels, draws = got["s"], got["y"], got["u"]
    sample = scores[draws < share]
    if len(sample) > EDGE_SAMPLE:
        sample = np.random.default_rng(0).choice(sample, EDGE_SAMPLE, replace=False)
    positives = scores[(labels == 1) & (draws < positive_share)]
    step = -(-len(positives) // EDGE_SAMPLE)
    return sample, positives[::step] if step > 1 else positives


def _count(checked: _Checked, score: str, *, weight: str | None, keys: Sequence[str], decisions: Sequence[str],
           sums: Sequence[str], mode: CountingRequest, bins: int, edges_at: Sequence[float], exact_limit: int,
           progress: Progress | None) -> ScoreCounts:
    functions = _spark()
    what = f"counting {score}"
    if progress:
        progress(0.0, what)
    all_keys = [*keys, *decisions]
    # one row per item with the columns counting reads, renamed so no column of the data can clash with them;
    # adding 0.0 turns -0.0 into 0.0, which the binary search would put below an edge at 0.0 (numpy does not)
    columns = [(_as_double(score) + functions.lit(0.0)).alias("s"), checked.label_column().alias("y")]
    columns += [] if weight is None else [_as_double(weight).alias("w")]
    columns += [_ref(key).alias(f"k{i}") for i, key in enumerate(keys)]
    columns += [_decision_key(column).alias(f"k{len(keys) + i}") for i, column in enumerate(decisions)]
    columns += [_as_double(name).alias(f"v{i}") for i, name in enumerate(sums)]
    frame = checked.frame.select(*columns)
    low, high = checked.counted[score]
    distinct = checked.distinct.get(score)
    sample: np.ndarray | None = None
    positives = np.zeros(0)
    if mode == "binned" or (mode == "auto" and checked.rows > AUTO_BINNED_ABOVE):  # "auto": exact below
        sample, positives = _edge_samples(frame, checked.rows, checked.positive_rows)
    if progress:
        progress(0.2, what)
    chosen = choose_counting(mode, rows=checked.rows, sample=sample) if sample is not None else "exact"
    if chosen == "exact" and distinct is not None and distinct > exact_limit:
        # the checks' figure adds the distinct scores of the positives and the negatives: count them together
        distinct = int(frame.agg(functions.approx_count_distinct("s")).collect()[0][0])
    if chosen == "exact" and distinct is not None and distinct > exact_limit:
        if mode == "exact":
            raise InputError(
                f"{checked.file}: score column {score!r} holds about {distinct:,} distinct scores, more than the "
                f"{exact_limit:,} that exact counting collects to the Spark driver (one cell per distinct score and "
                "label). Use bins: mode='binned' (--bins N on the command line), whose cells stay few at any size; "
                "or raise exact_limit if the driver has the memory.")
        chosen = "binned"  # "auto" on a sample that hid the data's many distinct scores
        if sample is None:
            sample, positives = _edge_samples(frame, checked.rows, checked.positive_rows)
    group = [functions.col("y"), *(functions.col(f"k{i}") for i in range(len(all_keys)))]
    edges = np.zeros(0)
    if chosen == "binned":
        from pyspark.ml.feature import Bucketizer

        assert sample is not None
        edges = edges_from_samples(sample, positives, bins=bins, low=low, high=high, at=edges_at)
        # bucket b holds [splits[b], splits[b + 1]) and the last one its top too: with -inf and +inf around the
        # edges, bucket b is bin b - 1 of searchsorted(edges, score, side="right") - 1, an edge's score its bin
        splits = [-math.inf, *(edges + 0.0).tolist(), math.inf]  # + 0.0: an edge of -0.0 as 0.0, as the scores
        frame = Bucketizer(splits=splits, inputCol="s", outputCol="b").transform(frame)
        group.insert(0, (functions.col("b").cast("int") - 1).alias("cell"))
    else:
        group.insert(0, functions.col("s").alias("cell"))
    # the aggregates every engine computes, in SQL over the columns s, y, w and v0, v1, ... projected above
    figures = group_aggregates(mode=chosen, weighted=weight is not None, sums=sums)
    aliases = {name: f"a{i}" for i, name in enumerate(figures)}
    grouped = frame.groupBy(*group).agg(*(functions.expr(sql).alias(aliases[name]) for name, sql in figures.items()))
    got = _collected(grouped)
    if progress:
        progress(0.9, what)
    cells = {"score": edges[got["cell"]] if chosen == "binned" else got["cell"], "label": got["y"].astype(np.int8)}
    cells |= {key: got[f"k{i}"] for i, key in enumerate(all_keys)}
    cells |= {name: got[alias] for name, alias in aliases.items()}
    counts = counts_from_groups(cells, mode=chosen, bins=bins, score_min=low, score_max=high, keys=all_keys,
                                sums=sums, weighted=weight is not None)
    if progress:
        progress(1.0, what)
    return counts


def _file(name: str | None) -> str:
    return f"'{name or 'Spark DataFrame'}'"


def _checked_request(mode: str, bins: object) -> None:
    if mode not in ("auto", "exact", "binned"):
        raise InputError(f"mode must be 'auto', 'exact' or 'binned', not {mode!r}.")
    if not (isinstance(bins, int | np.integer) and 2 <= bins <= LIMITS.bins):
        raise InputError(f"bins must be a whole number from 2 to {LIMITS.bins:,} (limits.bins), not {bins!r}.")


def spark_counts(
    df: DataFrame,
    *,
    label: str,
    score: str,
    weight: str | None = None,
    keys: Sequence[str] = (),
    sums: Sequence[str] = (),
    decisions: Sequence[str] = (),
    mode: CountingRequest = "auto",
    bins: int = DEFAULT_BINS,
    edges_at: Sequence[float] = (),
    positive: str | None = None,
    name: str | None = None,
    exact_limit: int = EXACT_SCORES_LIMIT,
    progress: Progress | None = None,
) -> ScoreCounts:
    """Count one score column of a Spark DataFrame: the ScoreCounts the local path gives for the same rows.

    ``label`` holds two values; the positive one is ``positive`` (compared as the loader compares it, case- and
    space-insensitively) or, unnamed, the known one of a pair such as 0/1, false/true or no/yes. ``weight`` is a
    column of weights (items a row stands for); ``keys`` are columns that split cells further (a segment, a
    window), ``decisions`` recorded-decision columns keyed as 0/1, ``sums`` value columns summed per cell
    (weighted). ``mode="auto"`` bins when the scores sampled for the bin edges hold more than 100,000 distinct
    ones; each of ``edges_at`` (thresholds to report at) is a bin edge. Exact mode collects a cell per distinct
    score and label: beyond ``exact_limit`` distinct scores (approximately counted) it is refused, and "auto"
    bins. ``name`` is how messages name the data. ``progress`` hears "checking", then "counting SCORE".

    Spark runs three jobs, each a scan of the DataFrame: the checks (grouped by the label, whose values come
    with them), the sample of the bin edges (binned mode, and "auto" above 100,000 rows), the GROUP BY; exact
    mode adds a count of the distinct scores when there may be more than ``exact_limit``. Cache the DataFrame
    first when it is expensive to compute. Raises InputError naming the column and a few
    of its values for what the local loader refuses (see :func:`_checked`), and MetricBridgeError without
    pyspark.
    """
    _checked_request(mode, bins)
    if progress:
        progress(0.0, "checking")
    checked = _checked(df, file=_file(name), label=label, scores=[score], weight=weight, sums=sums,
                       decisions=decisions, positive=positive, drop_missing=False, count_distinct=mode != "binned")
    return _count(checked, score, weight=weight, keys=keys, decisions=decisions, sums=sums, mode=mode, bins=int(bins),
                  edges_at=edges_at, exact_limit=exact_limit, progress=scaled_progress(progress, 0.2, 1.0))


# -- evaluating -----------------------------------------------------------------------------------------------

def _scenario_columns(df: DataFrame, file: str, scenario: Scenario) -> None:
    """The scenario's value and decision columns exist in the DataFrame; say which field names a missing one."""
    for outcome, spec in scenario.value.items():
        if spec.column and spec.column not in df.columns:
            raise ScenarioError(f"scenario {scenario.name!r}: value.{outcome}.column names {spec.column!r}, which "
                                f"{file} does not have; its columns are: {', '.join(df.columns)}.")
    for index, entry in enumerate(scenario.status_quo):
        if entry.column and entry.column not in df.columns:
            raise ScenarioError(f"scenario {scenario.name!r}: status_quo[{index}] ({entry.name!r}) names column "
                                f"{entry.column!r}, which {file} does not have; its columns are: "
                                f"{', '.join(df.columns)}.")


def evaluate_spark(
    df: DataFrame,
    *,
    label: str,
    scores: Sequence[str],
    name: str | None = None,
    positive: str | None = None,
    weight: str | None = None,
    id: str | None = None,
    drop_missing: bool = False,
    threshold: float | None = None,
    mode: CountingRequest = "auto",
    bins: int = DEFAULT_BINS,
    ask_threshold_for_margins: bool = True,
    scenario: Scenario | None = None,
    criteria: Criteria | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    band_bins: int = DEFAULT_BAND_BINS,
    exact_limit: int = EXACT_SCORES_LIMIT,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Evaluate every score column of a Spark DataFrame: the report :func:`metricbridge.evaluate.evaluate_file`
    gives for the same rows (the same JSON from ``to_dict()``, ``name`` standing for the file's name), counted
    by Spark and judged on the driver.

    The columns are named, not guessed: ``label`` and ``scores`` (one or more), and optionally ``weight`` and
    ``id``. ``drop_missing`` drops rows with a missing label, score or weight instead of refusing them. The
    other arguments are :func:`~metricbridge.evaluate.evaluate_file`'s. The report holds no preview of the rows
    (``report.data.preview`` is None)."""
    from metricbridge.evaluate import DataSummary, EvaluationReport, binned_note, policy_threshold
    from metricbridge.metrics import evaluate_counts, single_class_warning

    _checked_request(mode, bins)
    file = _file(name)
    if not scores:
        raise InputError(f"{file}: name the score column(s) to evaluate (scores=[...], --score COLUMN).")
    if criteria is not None:
        criteria.check(scenario)
    if threshold is not None and not math.isfinite(threshold):
        raise InputError(f"the threshold must be a finite number, not {threshold!r}.")
    if scenario is not None:
        _scenario_columns(df, file, scenario)
    if id is not None and id not in df.columns:
        raise InputError(f"{file}: has no column {id!r} (named as the id column). Its columns are: "
                         f"{', '.join(df.columns)}.")
    sums = scenario.value_columns if scenario else ()
    decisions = scenario.status_quo_columns if scenario else ()
    if progress:
        progress(0.0, "checking")
    checked = _checked(df, file=file, label=label, scores=list(scores), weight=weight, sums=sums,
                       decisions=decisions, positive=positive, drop_missing=drop_missing,
                       count_distinct=mode != "binned")
    notes: list[str] = []
    if checked.dropped_rows:
        notes.append(f"dropped {checked.dropped_rows} row{'s' if checked.dropped_rows > 1 else ''} with a missing "
                     "label, score or weight")
    warnings: list[str] = []
    if checked.positive_rows in (0, checked.rows):
        kind = "negative" if checked.positive_rows == 0 else "positive"
        warnings.append(f"{file}: every row of label column {label!r} is {kind}: ROC AUC and the rates that need "
                        "both classes are left empty.")
    counting_share = 0.5 if criteria is not None else 1.0
    models = []
    for number, column in enumerate(scores):
        step = 0.8 * counting_share / len(scores)
        counts = _count(checked, column, weight=weight, keys=(), decisions=decisions, sums=sums, mode=mode,
                        bins=int(bins), edges_at=() if threshold is None else (threshold,), exact_limit=exact_limit,
                        progress=scaled_progress(progress, 0.2 + number * step, 0.2 + (number + 1) * step))
        models.append(evaluate_counts(column, counts, threshold=0.5))
        if counts.is_hard_decision:
            notes.append(f"{column!r} holds 0/1 decisions, not scores: it has a single operating point, so its "
                         "curves are a single step and the threshold only matters above 0 and up to 1.")
        if counts.mode == "binned":
            notes.append(binned_note(column, counts))
    single_class = single_class_warning(models[0].counts, name=file)
    if single_class and not warnings:
        warnings.append(single_class)
    data = DataSummary(file=file.strip("'"), columns=tuple(df.columns),
                       types={field.name: field.dataType.simpleString() for field in df.schema.fields},
                       label=label, positive=checked.positive, scores=tuple(scores), weight=weight, id=id,
                       rows_in_file=checked.rows_in_file, rows=checked.rows, dropped_rows=checked.dropped_rows,
                       positive_rows=checked.positive_rows, score_ranges=checked.ranges, preview=None)
    decided = {column: _decision_curve(models[0].counts, column) for column in decisions}
    report = EvaluationReport(data=data, models=tuple(models), notes=tuple(notes), warnings=tuple(warnings),
                              decisions=decided).with_scenario(scenario)
    if criteria is not None:
        report = report.with_criteria(criteria, threshold=threshold, resamples=resamples, seed=seed, bins=band_bins,
                                      progress=scaled_progress(progress, 0.2 + 0.8 * counting_share, 1.0))
    thresholds, reasons = {}, {}
    for model in report.models:
        thresholds[model.name], reasons[model.name] = policy_threshold(
            report, model.name, given=threshold, ask_threshold_for_margins=ask_threshold_for_margins)
        if reasons[model.name].startswith("the median"):
            notes.append(f"{model.name!r} holds scores outside [0, 1], not probabilities: the threshold starts "
                         f"at its median score, {thresholds[model.name]:g}; set the one you mean.")
    return replace(report.at(thresholds), notes=tuple(notes), reasons=reasons)


def _decision_curve(counts: ScoreCounts, column: str) -> ThresholdCurve:
    from metricbridge.curve import curve_from_counts

    return curve_from_counts(counts.decided_by(column))

