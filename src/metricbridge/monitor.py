"""Monitoring after the go decision: the agreed criteria window by window, drift, and estimates before labels.

One ScoreCounts keyed by the time window (declared when counting starts) serves every window: a window is
``counts.select(key == value)``. A labelled window is judged as the test set was (a bootstrap of its own, the
seed derived from the window's place); a window whose labels have not arrived is estimated from its scores
(:mod:`metricbridge.estimate`, assuming calibrated scores, checked on the reference and on the latest labelled
windows before it, where a change in how scores relate to outcomes shows first) and marked as an estimate
everywhere, with a warning when either check fails. Every window's scores are compared with the reference's
(:mod:`metricbridge.drift`). An alert is raised when a criterion turns from pass to uncertain or fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from metricbridge.counts import ScoreCounts
from metricbridge.criteria import Criteria, Criterion
from metricbridge.curve import curve_from_counts
from metricbridge.drift import DEFAULT_DRIFT_THRESHOLDS, Drift, DriftThresholds, score_drift
from metricbridge.errors import InputError
from metricbridge.estimate import Estimate, estimate_window
from metricbridge.judge import (
    Choice,
    CriteriaResult,
    decision_columns,
    resampled,
    threshold_bootstrap_suffices,
    verdicts,
)
from metricbridge.limits import DEFAULT_RESAMPLES
from metricbridge.scenario import Scenario
from metricbridge.segments import cell_groups
from metricbridge.uncertainty import ProgressCallback, build_bootstrap

__all__ = ["ESTIMABLE", "WINDOWS", "MonitorReport", "WindowResult", "WindowedCounts", "check_times", "count_windows",
           "monitor"]

ESTIMABLE = ("recall", "precision", "flag_rate")  # what an estimate from calibrated scores can judge
_GIVEN = Choice(chosen=None, closest=None)  # the threshold is given (the agreed one), not chosen per window


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class WindowResult:
    """One window: its size, the figures at the threshold (estimated when unlabelled), its verdict per
    criterion ("pass", "uncertain", "fail", each prefixed "estimated " for an unlabelled window), and drift."""

    window: Any
    label: str
    labelled: bool
    rows: int
    n: float
    prevalence: float | None
    figures: dict[str, float]
    verdicts: dict[str, str]  # by criterion, in words of Criterion.describe()
    intervals: dict[str, tuple[float, float]]
    result: CriteriaResult | None
    estimate: Estimate | None
    drift: Drift

    def to_dict(self) -> dict[str, Any]:
        def clean(value: float | None) -> float | None:
            return None if value is None or not np.isfinite(value) else float(value)

        return {"window": self.label, "labelled": self.labelled, "estimated": not self.labelled,
                "rows": self.rows, "n": self.n, "prevalence": clean(self.prevalence),
                "figures": {k: clean(v) for k, v in self.figures.items()}, "verdicts": self.verdicts,
                "intervals": {k: [clean(a), clean(b)] for k, (a, b) in self.intervals.items()},
                "assumption": None if self.estimate is None else self.estimate.assumption,
                "estimate_reliable": None if self.estimate is None else self.estimate.reliable,
                "estimate_warning": None if self.estimate is None else self.estimate.warning,
                "calibration": None if self.estimate is None else {
                    "reference": self.estimate.calibration.to_dict(),
                    "recent": {name: check.to_dict() for name, check in self.estimate.recent_calibration.items()}},
                "drift": self.drift.to_dict()}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MonitorReport:
    key: str
    threshold: float
    windows: tuple[WindowResult, ...]
    reference: str
    alerts: tuple[str, ...]
    criteria: Criteria | None

    @property
    def alerted(self) -> bool:
        return bool(self.alerts)

    @property
    def latest_short(self) -> bool:
        """Whether the latest window drifted or does not (clearly, or by estimate) meet every criterion."""
        if not self.windows:
            return False
        last = self.windows[-1]
        return last.drift.drifted or any(v.removeprefix("estimated ") != "pass" for v in last.verdicts.values())

    def latest(self) -> str:
        """A plain sentence for the latest window ("Week 2024-06-03: recall estimated 0.46 (0.39-0.53), below
        the agreed 0.5; labels pending")."""
        if not self.windows:
            return "No windows to monitor."
        last = self.windows[-1]
        parts = [_figure_words(last, criterion) for criterion in (self.criteria.criteria if self.criteria else ())
                 if criterion.describe() in last.verdicts]
        if not parts:
            parts = [f"flags {last.figures.get('flag_rate', float('nan')):.1%} of items"]
        pending = "; labels pending" if not last.labelled else ""
        if last.estimate is not None and not last.estimate.reliable:
            pending += " and the estimate is unreliable (the scores were not calibrated where checked)"
        drifted = "; scores drifted from the reference" if last.drift.drifted else ""
        return f"{last.label}: {'; '.join(parts)}{pending}{drifted}."

    def with_drift_thresholds(self, thresholds: DriftThresholds) -> MonitorReport:
        """The same windows with drift judged by other thresholds, and the alerts again (no bootstrap)."""
        windows = tuple(replace(w, drift=w.drift.judged_by(thresholds)) for w in self.windows)
        return replace(self, windows=windows, alerts=_alerts(windows))

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "threshold": self.threshold, "reference": self.reference,
                "alerts": list(self.alerts), "alerted": self.alerted, "latest": self.latest(),
                "windows": [w.to_dict() for w in self.windows]}


def _figure_words(window: WindowResult, criterion: Criterion) -> str:
    value = window.figures.get(criterion.metric, float("nan"))
    low, high = window.intervals.get(criterion.metric, (float("nan"), float("nan")))
    how = " estimated" if not window.labelled else ""
    side = {"pass": "meeting", "fail": "below" if criterion.comparison == "at_least" else "above"}.get(
        window.verdicts[criterion.describe()].removeprefix("estimated "), "not clearly meeting")
    return (f"{criterion.metric}{how} {value:.2f} ({low:.2f}-{high:.2f}), {side} the agreed "
            f"{criterion.bound:g}")


def _estimated_verdict(criterion: Criterion, interval: tuple[float, float]) -> str:
    """From the estimate's interval: pass when it lies on the right side of the target, fail when wholly on
    the wrong side, else uncertain."""
    low, high = interval
    good, bad = (low >= criterion.bound, high < criterion.bound) if criterion.comparison == "at_least" else (
        high <= criterion.bound, low > criterion.bound)
    return "estimated " + ("pass" if good else "fail" if bad else "uncertain")


def _window_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, 23, index]).generate_state(1)[0])


def _judged(window: ScoreCounts, criteria: Criteria | None, scenario: Scenario | None, threshold: float, *,
            resamples: int, seed: int) -> tuple[CriteriaResult | None, dict[str, str], dict[str, tuple[float, float]]]:
    if criteria is None:
        return None, {}, {}
    boot = build_bootstrap(window, decisions=decision_columns(scenario), resamples=resamples, seed=seed,
                           at=threshold if threshold_bootstrap_suffices(criteria) else None)
    figures = resampled(boot, scenario)
    result = verdicts(figures, criteria, threshold=threshold, choice=_GIVEN)
    words = {v.criterion.describe(): v.verdict for v in result.verdicts}
    intervals = {name: (float(a), float(b)) for name, (a, b) in result.intervals.items()
                 if isinstance(name, str) and a is not None and b is not None}
    return result, words, intervals


def _estimated(reference: ScoreCounts, window: ScoreCounts, criteria: Criteria | None, threshold: float, *,
               resamples: int, seed: int,
               recent: Mapping[str, ScoreCounts]) -> tuple[Estimate, dict[str, str], dict[str, tuple[float, float]]]:
    estimate = estimate_window(reference, window, threshold, metrics=ESTIMABLE, resamples=resamples, seed=seed,
                               confidence=criteria.confidence if criteria else 0.9, recent=recent)
    intervals = {name: (low, high) for name, (_, low, high) in estimate.intervals.items()}
    # an unreliable estimate (the scores not calibrated where checked) can neither pass nor fail a criterion
    words = {c.describe(): _estimated_verdict(c, intervals[c.metric]) if estimate.reliable else "estimated uncertain"
             for c in (criteria.criteria if criteria else ()) if c.metric in intervals and not c.relative_to}
    return estimate, words, intervals


def _alerts(windows: Sequence[WindowResult]) -> tuple[str, ...]:
    found = []
    for before, now in zip(windows, windows[1:], strict=False):
        for criterion, verdict in now.verdicts.items():
            was = before.verdicts.get(criterion, "").removeprefix("estimated ")
            if was == "pass" and verdict.removeprefix("estimated ") in ("uncertain", "fail"):
                found.append(f"{now.label}: {criterion} turned from pass to {verdict} "
                             f"({'estimated, labels pending' if not now.labelled else 'labelled'}).")
        if now.drift.drifted and not before.drift.drifted:
            found.append(f"{now.label}: scores drifted ({'; '.join(now.drift.reasons)}).")
    return tuple(found)


def monitor(counts: ScoreCounts, key: str, *, threshold: float, labelled: Callable[[Any], bool] | Mapping[Any, bool],
            criteria: Criteria | None = None, scenario: Scenario | None = None,
            reference: ScoreCounts | None = None, reference_windows: int = 4, recent_windows: int = 2,
            drift_thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS, resamples: int = DEFAULT_RESAMPLES,
            seed: int = 0, name: Callable[[Any], str] = str, progress: ProgressCallback | None = None,
            reference_name: str = "the given reference") -> MonitorReport:
    """Every window of ``key`` in order, at the agreed ``threshold``.

    ``labelled`` says which windows have their labels (their cells' labels are meaningless otherwise).
    ``reference`` defaults to the first ``reference_windows`` labelled windows together. A window without
    labels is estimated from its scores, the calibration checked on the reference and on each of the last
    ``recent_windows`` labelled windows before it (0: on the reference only). ``progress`` hears
    the share of windows done, with the window being judged.
    """
    if not (isinstance(recent_windows, int | np.integer) and recent_windows >= 0):
        raise InputError(f"recent_windows must be a whole number of at least 0 (0: check the calibration on the "
                         f"reference only), not {recent_windows!r}.")
    if key not in counts.keys:
        raise InputError(f"the counts have no key {key!r} (they have: {', '.join(counts.keys) or 'none'}): count "
                         f"with keys=[{key!r}] to monitor by it.")
    is_labelled = labelled.get if isinstance(labelled, Mapping) else labelled
    cells = cell_groups(counts.keys[key])  # each window's cells, found once
    values = sorted(cells, key=lambda v: (str(type(v)), v))
    labelled_values = [v for v in values if is_labelled(v)]
    if reference is None:
        if not labelled_values:
            raise InputError("no window has its labels: give a labelled reference (a run or a file) to compare with.")
        first = labelled_values[:reference_windows]
        reference = counts.select(np.sort(np.concatenate([cells[v] for v in first])))
        described = f"the first {len(first)} labelled window{'s' if len(first) > 1 else ''} ({name(first[0])} to " \
                    f"{name(first[-1])})"
    else:
        described = reference_name
    results = []
    for index, value in enumerate(values):
        if progress:
            progress(index / len(values), f"judging {name(value)}")
        window = counts.select(cells[value])
        has_labels = bool(is_labelled(value))
        estimate = result = None
        if has_labels:
            figures = curve_from_counts(window).at(threshold)
            result, words, intervals = _judged(window, criteria, scenario, threshold, resamples=resamples,
                                               seed=_window_seed(seed, index))
        else:
            before = [v for v in values[:index] if is_labelled(v)][-recent_windows:] if recent_windows else []
            recent = {name(v): counts.select(cells[v]) for v in before}
            estimate, words, intervals = _estimated(
                reference, window, criteria, threshold, resamples=resamples, seed=_window_seed(seed, index),
                recent={label: rows for label, rows in recent.items() if rows.n > 0})
            figures = estimate.figures
        results.append(WindowResult(
            window=value, label=name(value), labelled=has_labels, rows=window.n_rows, n=window.n,
            prevalence=window.prevalence if has_labels else None, figures=figures, verdicts=words,
            intervals=intervals, result=result, estimate=estimate,
            drift=score_drift(reference, window, thresholds=drift_thresholds, labelled=has_labels)))
    return MonitorReport(key=key, threshold=threshold, windows=tuple(results), reference=described,
                         alerts=_alerts(results), criteria=criteria)


# -- from a predictions file to windowed counts -------------------------------------------------------------

WINDOWS = ("day", "week", "month")
LABELLED_SHARE = 0.5  # a window is labelled when at least this share of its rows has its label


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class WindowedCounts:
    """One model's counts keyed by ``"window"`` (the first day of each window) and ``"labelled"`` (1 for a row
    with its label), counted in one pass, with the windows whose labels have arrived. A labelled window's rows
    still waiting for labels are left out; an unlabelled window keeps all its rows (it is estimated from its
    scores: its labels are not read)."""

    counts: ScoreCounts
    labelled: frozenset[Any]
    time: str
    window: str

    def name(self, value: Any) -> str:
        return f"{self.window.capitalize()} {value}"


def check_times(predictions: Any, column: str) -> None:
    """Every row's ``column`` reads as a date or a timestamp, else bad input naming the first rows that do not."""
    from metricbridge.loading.builders import quote
    from metricbridge.loading.reading import TABLE

    predictions.require_column(column, "time")
    table = predictions.table
    bad = f"TRY_CAST({quote(column)} AS TIMESTAMP) IS NULL"
    rows = table.con.execute(f"SELECT {table.spreadsheet_row}, CAST({quote(column)} AS VARCHAR) FROM {TABLE} WHERE "
                             f"{predictions.where} AND {bad} ORDER BY {table.row} LIMIT 3").fetchall()
    if rows:
        shown = ", ".join(f"row {row}: {value!r}" for row, value in rows)
        raise InputError(f"{table.name}: time column {column!r} holds values that are not dates or times "
                         f"({shown}): write them as 2024-03-04 or 2024-03-04 13:45, or choose another time column.")


def count_windows(predictions: Any, score: str, time: str, window: str, *, sums: Sequence[str] = (),
                  decisions: Sequence[str] = (), progress: Any = None) -> WindowedCounts:
    """Count ``score`` of ``predictions`` (loaded with ``labels_pending=True``) by ``window`` of ``time``."""
    from metricbridge.loading.builders import quote

    if window not in WINDOWS:
        raise InputError(f"window {window!r} is not one of {', '.join(WINDOWS)}.")
    check_times(predictions, time)
    window_sql = f"CAST(date_trunc('{window}', CAST({quote(time)} AS TIMESTAMP)) AS DATE)"
    counts = predictions.counts(score, sums=sums, keys=["window", "labelled"], decisions=decisions,
                                key_sql={"window": window_sql, "labelled": predictions.labelled_sql},
                                progress=progress)
    kept, done = labelled_windows(counts)
    return WindowedCounts(counts=kept, labelled=done, time=time, window=window)


def labelled_windows(counts: ScoreCounts, key: str = "window") -> tuple[ScoreCounts, frozenset[Any]]:
    """The windows (values of ``key``) whose labels have arrived, judged by the ``"labelled"`` key: at least
    LABELLED_SHARE of a window's rows have theirs. Returned with the counts less those windows' rows still
    waiting (an unlabelled window keeps all its rows: it is estimated from its scores)."""
    has_label, rows = counts.keys["labelled"] == 1, counts.rows
    in_done = np.zeros(counts.cells, dtype=bool)
    done = []
    for value, cells in cell_groups(counts.keys[key]).items():
        if rows[cells][has_label[cells]].sum() >= LABELLED_SHARE * rows[cells].sum():
            done.append(value)
            in_done[cells] = True
    return counts.select(has_label | ~in_done), frozenset(done)

