"""Issue 11's benchmark: 10 million rows, 50 segments x 52 weeks, counted once, then every page interaction.

Run from the repository root::

    .venv/bin/python benchmarks/bench_monitoring.py                       # 1e7 rows, 50 segments, 52 weeks
    .venv/bin/python benchmarks/bench_monitoring.py --rows 1e6 --skip app  # a quick look at the core alone
    .venv/bin/python benchmarks/bench_monitoring.py --write                # and append a section to results.txt

1. Data: a Parquet file of ``--rows`` rows (week DATE, segment text, amount, rule_flag, label, score), written
   in chunks of a million rows with pyarrow and cached under /tmp/metricbridge-bench (``--fresh`` writes it
   again). Planted: segment sizes from 3.7% of the rows down to 0.5%; positives about 1.6%; a calibrated-ish
   score (the true probability's logit plus noise); one segment ("seg-03") scored with more noise; in the last
   quarter of the weeks the scores drift up and lose sharpness; the last 2 weeks' labels are empty (pending).
   ``rule_flag`` is today's amount rule (the demo scenario's status quo), ``amount`` its value column.
2. Core: one ``Predictions.counts`` pass keyed by segment + week window + labelled, with the scenario's
   decision column (rule_flag) and value column (amount), at each of ``--bins`` (default 10,000 and 1,000 bins):
   time, cells, peak RSS of the pass (``VmHWM`` reset before it) and bytes of the ScoreCounts. From that one
   ScoreCounts: every segment's figures at the threshold (no bootstrap), ``segment_report`` with the demo's
   criteria and scenario (1,000 resamples), ``monitor`` of every week, a drift re-judge, one segment x week
   drill-down. Beside it: each key counted in a pass of its own (as the app's pages count today), the keyed
   counts summed down to one key (no pass over the rows), and the same analyses on those.
3. App (``--skip app`` leaves it out): the file is loaded as a demo would be: METRICBRIDGE_DEMO_DIR points to a
   temp folder holding it (a symlink) under the monitoring demo's file name with the demo's scenario and
   criteria, and the session opens ``?demo=monitoring&model=score&threshold=T`` (the way tests/test_ui.py's
   ``_monitoring_demo`` opens the real demo: the same Source, column choices, scenario and criteria a user who
   uploads the file and loads both YAML files gets; no upload copy is made). Timed in AppTest (server-side, from
   the rerun request to "script stopped", as benchmarks/bench_ui.py stamps it): Home's first run (counting),
   the time until the passes it starts for the Segments and Monitoring pages finish (``state.prefetch``; left
   out with ``--at-once``), then per page the first open and each control moved ``--moves`` times. A page
   that waits for its background job (``ui.background.wait``) shows everything drawn before the wait at once:
   the time until the wait starts is "what shows without verdicts", the rerun's end "with verdicts". A control
   moved to a new value is new work (a count, a bootstrap) and is named so.

Targets (issue 9): an interaction after a page has loaded median <= 100 ms and worst <= 200 ms, <= 250 ms with a
10-million-row file (the one used from 5 million rows on); a first open once the file is counted <= 300 ms for
what it shows without verdicts. Tables go to stdout, progress to stderr, and last one JSON line of every figure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ui as ui  # noqa: E402  (its timing of AppTest reruns, its Row and its tables)
from bench_ui import table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.txt"
CACHE = Path(tempfile.gettempdir()) / "metricbridge-bench"
DATA_VERSION = 1  # bump when make_data changes: the cached file's name carries it
SEED = 0
CHUNK_ROWS = 1_000_000
PENDING_WEEKS = 2
WORSE_SEGMENT = 3  # "seg-03": scored with more noise
FIRST_WEEK = dt.date(2024, 1, 1)  # a Monday: a week window starts on its row's own week

# Targets, in milliseconds: (median, worst).
INTERACTION = (100.0, 200.0)
INTERACTION_BIG = (250.0, 250.0)
BIG_FROM = 5_000_000  # rows from which the big file's target applies
FIRST_OPEN = (300.0, 300.0)

_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# 1. Data
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BenchData:
    path: Path
    rows: int
    segments: int
    weeks: int
    size_mb: float
    write_s: float | None  # None: found in the cache

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "rows": self.rows, "segments": self.segments, "weeks": self.weeks,
                "file_mb": round(self.size_mb, 1), "write_s": self.write_s, "cached": self.write_s is None}


def segment_names(segments: int) -> list[str]:
    return [f"seg-{k:02d}" for k in range(segments)]


def _chunk(rng: np.random.Generator, rows: int, segments: int, weeks: int) -> dict[str, Any]:
    """One chunk of rows (see the module docstring for what is planted)."""
    import pyarrow as pa

    sizes = 1.0 / np.arange(1, segments + 1) ** 0.8
    segment = rng.choice(segments, size=rows, p=sizes / sizes.sum())
    week = rng.integers(0, weeks, size=rows)
    true_logit = -7.0 + 2.5 * rng.standard_normal(rows)
    label = rng.random(rows) < 1.0 / (1.0 + np.exp(-true_logit))
    late_from = weeks - max(1, weeks // 4)
    drift = np.clip((week - late_from + 1) / max(1, weeks - late_from), 0.0, 1.0)
    noise = 0.35 + 0.5 * drift + 0.8 * (segment == WORSE_SEGMENT)
    score_logit = true_logit + 0.4 * drift + noise * rng.standard_normal(rows)
    score = np.clip(1.0 / (1.0 + np.exp(-score_logit)), 1e-6, 1 - 1e-6).astype(np.float32)
    amount = np.round(rng.lognormal(3.8 + 0.6 * label, 1.0), 2).astype(np.float32)
    rule_flag = ((amount > 250) | (rng.random(rows) < 0.01 + 0.2 * label)).astype(np.int8)
    pending = week >= weeks - PENDING_WEEKS
    days = (week * 7).astype("timedelta64[D]") + np.datetime64(FIRST_WEEK, "D")
    names = np.array(segment_names(segments), dtype=object)
    return {
        "week": pa.array(days, type=pa.date32()),
        "segment": pa.DictionaryArray.from_arrays(pa.array(segment.astype(np.int32)), pa.array(names.tolist())),
        "amount": pa.array(amount),
        "rule_flag": pa.array(rule_flag),
        "label": pa.array(label.astype(np.int8), mask=pending),
        "score": pa.array(score),
    }


def make_data(rows: int, segments: int, weeks: int, *, fresh: bool = False) -> BenchData:
    """The benchmark's file, from the cache when it is there (and ``fresh`` is not asked)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"monitoring-v{DATA_VERSION}-{rows}-{segments}x{weeks}.parquet"
    if path.is_file() and not fresh:
        return BenchData(path, rows, segments, weeks, path.stat().st_size / 2**20, None)
    log(f"data: writing {rows:,} rows ({segments} segments x {weeks} weeks) to {path}")
    start = time.perf_counter()
    partial = path.with_suffix(".partial")
    writer = None
    try:
        for number, first in enumerate(range(0, rows, CHUNK_ROWS)):
            rng = np.random.default_rng([SEED, number])
            table = pa.table(_chunk(rng, min(CHUNK_ROWS, rows - first), segments, weeks))
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)
    return BenchData(path, rows, segments, weeks, path.stat().st_size / 2**20, round(time.perf_counter() - start, 1))


# ----------------------------------------------------------------------------------------------------------------
# Memory and timing
# ----------------------------------------------------------------------------------------------------------------


def _status(field_name: str) -> float | None:
    """A VmRSS / VmHWM line of /proc/self/status in MB (None off Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    return None


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+), so a peak read later is that of what ran since."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def nbytes(counts: Any) -> int:
    """Bytes of a ScoreCounts' arrays (an object array's pointers and its distinct objects)."""
    arrays = [getattr(counts, name) for name in ("scores", "labels", "rows", "weights", "score_sums", "brier_sums",
                                                 "log_loss_sums", "weight_squares", "weight_cubes")]
    for mapping in (counts.keys, counts.sums, counts.squares, counts.crosses, counts.cubes):
        arrays += list(mapping.values())
    total = 0
    for values in arrays:
        if values is None:
            continue
        total += values.nbytes
        if values.dtype == object:
            total += sum(sys.getsizeof(v) for v in {id(v): v for v in values.tolist()}.values())
    return total


@dataclass
class Timed:
    """One step of the core section: its time, and what it found."""

    section: str
    step: str
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "step": self.step, "seconds": round(self.seconds, 4), **self.notes}


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


# ----------------------------------------------------------------------------------------------------------------
# 2. Core: one counting pass keyed by segment, window and labelled, then every figure the pages show
# ----------------------------------------------------------------------------------------------------------------

WINDOW_SQL = "CAST(date_trunc('week', CAST({column} AS TIMESTAMP)) AS DATE)"  # as monitor.count_windows writes it
DRAW_COPIES = 6  # arrays of resamples x coarse cells a bootstrap holds at once (draws, weights, sums, noise...)
HOT_SPOTS = ("value_codes", "_fetch", "_sparse_cells", "_group_codes", "_binned_cells", "_cell_sums", "argsort",
             "check_decisions")


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the core section and the app share: the demo's scenario and criteria, and the agreed threshold."""

    scenario: Any
    criteria: Any
    threshold: float


def demo_inputs() -> tuple[Any, Any]:
    from metricbridge.criteria import load_criteria
    from metricbridge.scenario import load_scenario

    return (load_scenario(ROOT / "data" / "scenarios" / "demo_fraud.yaml"),
            load_criteria(ROOT / "data" / "criteria" / "demo_fraud.yaml"))


def threshold_at_flag_rate(counts: Any, flag_rate: float) -> float:
    """The threshold (rounded to 4 decimals) that flags about ``flag_rate`` of the items."""
    from metricbridge.curve import curve_from_counts

    curve = curve_from_counts(counts)
    index = min(int(np.searchsorted(curve.flag_rate, flag_rate)), len(curve.thresholds) - 1)
    return round(float(curve.thresholds[index]), 4)


def same_cells(a: Any, b: Any) -> bool:
    """Whether two ScoreCounts hold the same cells (scores, labels, keys, rows) in the same order."""
    if a.cells != b.cells or set(a.keys) != set(b.keys):
        return False
    order_a = np.lexsort([a.labels, a.scores, *(np.asarray(a.keys[k]).astype(str) for k in sorted(a.keys))])
    order_b = np.lexsort([b.labels, b.scores, *(np.asarray(b.keys[k]).astype(str) for k in sorted(b.keys))])
    return bool(np.array_equal(a.scores[order_a], b.scores[order_b]) and np.array_equal(a.rows[order_a],
                                                                                       b.rows[order_b]))


def draw_mb(counts: Any, resamples: int, threshold: float) -> float:
    """MB a bootstrap at ``threshold`` holds at once: DRAW_COPIES arrays of resamples x its collapsed cells
    (flagged or not, per label and rule_flag)."""
    from metricbridge.uncertainty import collapsed_cells

    cells = collapsed_cells(counts, threshold, keys=("rule_flag",))[0].cells
    return DRAW_COPIES * resamples * cells * 8 / 2**20


def profiled(call: Callable[[], Any]) -> tuple[Any, float, dict[str, float]]:
    """``call()`` under cProfile (a few thousand Python calls: its overhead is lost in the numpy work); the
    result, the seconds, and the cumulative seconds of each of HOT_SPOTS that ran."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    start = time.perf_counter()
    result = profile.runcall(call)
    seconds = time.perf_counter() - start
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    spots: dict[str, float] = {}
    for (_, _, name), (_, _, _, cumulative, _) in stats.items():
        label = name.strip("<>").replace("method '", "").replace("' of 'numpy.ndarray' objects", "")
        if label in HOT_SPOTS:
            spots[label] = spots.get(label, 0.0) + cumulative
    return result, seconds, spots


class Core:
    """The steps of section 2, each timed into ``steps``."""

    def __init__(self, data: BenchData, inputs: Inputs, *, resamples: int, budget_mb: float) -> None:
        self.data, self.inputs, self.resamples, self.budget_mb = data, inputs, resamples, budget_mb
        self.steps: list[Timed] = []

    def add(self, section: str, step: str, seconds: float, **notes: Any) -> None:
        self.steps.append(Timed(section, step, seconds, notes))
        shown = ", ".join(f"{k} {v}" for k, v in notes.items() if not isinstance(v, dict | list))
        log(f"core: {section}: {step}: {seconds:.2f} s{'; ' + shown if shown else ''}")

    def skip(self, section: str, step: str, why: str) -> None:
        self.steps.append(Timed(section, step, float("nan"), {"skipped": why}))
        log(f"core: {section}: {step}: skipped ({why})")

    def fits(self, section: str, step: str, counts: Any) -> bool:
        needed = draw_mb(counts, self.resamples, self.inputs.threshold)
        if needed <= self.budget_mb:
            return True
        self.skip(section, step, f"its bootstrap would hold ~{needed:,.0f} MB of resamples x coarse cells "
                  f"(--draw-budget-mb {self.budget_mb:,.0f})")
        return False

    # -- the analyses, on any counts carrying the keys they need --------------------------------------------

    def segment_figures(self, section: str, counts: Any) -> None:
        from metricbridge.curve import curve_from_counts
        from metricbridge.segments import segment_counts

        threshold = self.inputs.threshold

        def run() -> list[dict[str, float]]:
            return [curve_from_counts(part).at(threshold) for part in segment_counts(counts, "segment").values()]

        figures, seconds = timed(run)
        recalls = [f["recall"] for f in figures]
        self.add(section, f"all {len(figures)} segments' figures at the threshold (no bootstrap)", seconds,
                 segments=len(figures), recall_range=[round(min(recalls), 3), round(max(recalls), 3)])

    def segment_report(self, section: str, counts: Any) -> None:
        from metricbridge.segments import segment_report

        step = f"segment_report with criteria ({self.resamples:,} resamples)"
        if not self.fits(section, step, counts):
            return
        inputs = self.inputs
        report, seconds = timed(lambda: segment_report(
            counts, "segment", threshold=inputs.threshold, criteria=inputs.criteria, scenario=inputs.scenario,
            resamples=self.resamples, seed=SEED))
        statuses: dict[str, int] = {}
        for result in report.results:
            statuses[result.status] = statuses.get(result.status, 0) + 1
        worst = report.worst()
        self.add(section, step, seconds, statuses=statuses, worst=None if worst is None else worst.label,
                 draw_mb=round(draw_mb(counts, self.resamples, self.inputs.threshold)))

    def monitor(self, section: str, counts: Any, labelled: set[Any]) -> Any:
        from metricbridge.monitor import monitor

        windows = sorted(set(counts.keys["window"].tolist()))
        step = f"monitor: all {len(windows)} windows ({self.resamples:,} resamples each labelled one)"
        first = counts.select(counts.keys["window"] == windows[0])
        if not self.fits(section, step + " [per window]", first):
            return None
        inputs = self.inputs
        report, seconds = timed(lambda: monitor(
            counts, "window", threshold=inputs.threshold, labelled=lambda w: w in labelled, criteria=inputs.criteria,
            scenario=inputs.scenario, resamples=self.resamples, seed=SEED, name=lambda w: f"Week {w}"))
        drifted = sum(1 for w in report.windows if w.drift.drifted)
        self.add(section, step, seconds, windows=len(report.windows), estimated=sum(
            1 for w in report.windows if not w.labelled), drifted=drifted, alerts=len(report.alerts),
            draw_mb_per_window=round(draw_mb(first, self.resamples, self.inputs.threshold)))
        return report

    def drift_rejudge(self, section: str, report: Any) -> None:
        from metricbridge.drift import DriftThresholds

        rejudged, seconds = timed(lambda: report.with_drift_thresholds(DriftThresholds(psi=0.1, ks_p_value=0.001)))
        self.add(section, "drift re-judged (PSI above 0.1, KS p below 0.001; no bootstrap)", seconds,
                 drifted=sum(1 for w in rejudged.windows if w.drift.drifted))

    def drill_down(self, section: str, counts: Any, labelled: set[Any]) -> None:
        from metricbridge.curve import curve_from_counts
        from metricbridge.judge import Choice, decision_columns, resampled, verdicts
        from metricbridge.uncertainty import build_bootstrap

        inputs = self.inputs
        window = sorted(labelled)[-1]
        segment = segment_names(self.data.segments)[WORSE_SEGMENT % self.data.segments]

        def run() -> tuple[dict[str, float], Any]:
            part = counts.select((counts.keys["segment"] == segment) & (counts.keys["window"] == window)
                                 & (counts.keys["labelled"] == 1))
            figures = curve_from_counts(part).at(inputs.threshold)
            boot = build_bootstrap(part, decisions=decision_columns(inputs.scenario), resamples=self.resamples,
                                   seed=SEED)
            result = verdicts(resampled(boot, inputs.scenario), inputs.criteria, threshold=inputs.threshold,
                              choice=Choice(chosen=None, closest=None))
            return figures, result

        (figures, result), seconds = timed(run)
        self.add(section, f"drill-down: {segment} x week {window} (figures + {self.resamples:,}-resample verdicts)",
                 seconds, recall=round(figures["recall"], 3), verdicts=[v.verdict for v in result.verdicts])


def one_pass(core: Core, predictions: Any, bins: int, *, sums: tuple[str, ...], decisions: tuple[str, ...],
             key_sql: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """One pass keyed by segment + window + labelled at ``bins``, the analyses on it, then on its cells summed
    down to each page's keys; the pass's figures, and the counts summed down to the windows."""
    section = f"one pass, {bins:,} bins"
    peak_reset = reset_peak()
    before = _status("VmRSS") or 0.0
    keyed, seconds, spots = profiled(lambda: predictions.counts(
        "score", bins=bins, keys=["segment", "window", "labelled"], key_sql=key_sql, sums=sums, decisions=decisions))
    peak = (_status("VmHWM") or 0.0) - before if peak_reset else None
    size_mb = nbytes(keyed) / 2**20
    figures = {"bins": bins, "seconds": round(seconds, 2), "cells": keyed.cells,
               "rows_per_cell": round(keyed.n_rows / keyed.cells, 2),
               "peak_rss_above_start_mb": None if peak is None else round(peak), "counts_mb": round(size_mb, 1),
               "hot_spots_s": {k: round(v, 2) for k, v in sorted(spots.items(), key=lambda kv: -kv[1])}}
    core.add(section, "counts keyed by segment + window + labelled (+ rule_flag, amount sums)", seconds,
             cells=keyed.cells, counts_mb=round(size_mb, 1), peak_mb=figures["peak_rss_above_start_mb"],
             hot_spots_s=figures["hot_spots_s"])
    from metricbridge.monitor import labelled_windows
    from metricbridge.uncertainty import keep_keys

    kept, labelled = labelled_windows(keyed)
    segments_only = keyed.select(keyed.keys["labelled"] == 1)  # the Segments page judges labelled rows
    del keyed
    core.segment_figures(section, segments_only)
    core.segment_report(section, segments_only)
    report = core.monitor(section, kept, labelled)
    if report is not None:
        core.drift_rejudge(section, report)
    core.drill_down(section, kept, labelled)
    # what a page would do with the one pass: sum its cells down to the keys the page needs
    marginal = f"summed down from the {bins:,}-bin pass"
    by_segment, seconds = timed(lambda: keep_keys(segments_only, ["segment", *decisions]))
    core.add(marginal, "to segment (+ rule_flag), labelled rows", seconds, cells=by_segment.cells)
    by_window, seconds = timed(lambda: keep_keys(kept, ["window", "labelled", *decisions]))
    core.add(marginal, "to window + labelled (+ rule_flag)", seconds, cells=by_window.cells)
    core.segment_figures(marginal, by_segment)
    core.segment_report(marginal, by_segment)
    report = core.monitor(marginal, by_window, labelled)
    if report is not None:
        core.drift_rejudge(marginal, report)
    figures["summed_down_cells"] = {"segment": by_segment.cells, "window": by_window.cells}
    return figures, by_window


def core_section(data: BenchData, *, bins_list: Sequence[int], resamples: int,
                 budget_mb: float) -> tuple[Core, dict[str, Any]]:
    """Section 2 (see the module docstring); the steps, and the figures of each counting pass."""
    from metricbridge.judge import decision_columns
    from metricbridge.loading import load_predictions
    from metricbridge.loading.builders import quote
    from metricbridge.monitor import count_windows

    path = data.path
    scenario, criteria = demo_inputs()
    predictions, load_s = timed(lambda: load_predictions(path, labels_pending=True, scores=["score"]))
    plain, plain_s = timed(lambda: predictions.counts("score"))
    core = Core(data, Inputs(scenario, criteria, threshold_at_flag_rate(plain, 0.025)), resamples=resamples,
                budget_mb=budget_mb)
    core.add("read", "load_predictions (read into DuckDB + checks), pending labels kept", load_s,
             rows=predictions.rows)
    core.add("read", "counts without keys (as Home's evaluation counts)", plain_s, cells=plain.cells,
             threshold=core.inputs.threshold)
    sums, decisions = tuple(scenario.value_columns), tuple(decision_columns(scenario))
    key_sql = {"window": WINDOW_SQL.format(column=quote("week")), "labelled": predictions.labelled_sql}
    passes: dict[str, Any] = {}
    by_window = None
    for bins in bins_list:
        passes[f"{bins} bins"], summed = one_pass(core, predictions, bins, sums=sums, decisions=decisions,
                                                   key_sql=key_sql)
        by_window = summed if by_window is None else by_window  # the default bins' (the first asked for)
    # each key in a pass of its own, at the default bins, as the app's Segments and Monitoring pages count today
    section = "a pass per key (as the app counts)"
    dropped, seconds = timed(lambda: load_predictions(path, drop_missing=True, scores=["score"]))
    core.add(section, "load_predictions again, pending rows dropped (as the Segments page loads it)", seconds)
    by_segment, seconds = timed(lambda: dropped.counts("score", keys=["segment"], sums=sums, decisions=decisions))
    core.add(section, "counts keyed by segment (+ rule_flag)", seconds, cells=by_segment.cells)
    windowed, seconds = timed(lambda: count_windows(predictions, "score", "week", "week", sums=sums,
                                                     decisions=decisions))
    core.add(section, "count_windows by week (+ rule_flag)", seconds, cells=windowed.counts.cells,
             same_cells_as_summed_down=None if by_window is None else same_cells(by_window, windowed.counts))
    core.segment_figures(section, by_segment)
    core.segment_report(section, by_segment)
    report = core.monitor(section, windowed.counts, set(windowed.labelled))
    if report is not None:
        core.drift_rejudge(section, report)
    return core, passes


# ----------------------------------------------------------------------------------------------------------------
# 3. App: the Segments and Monitoring pages on the file, timed in AppTest
# ----------------------------------------------------------------------------------------------------------------

_WAIT: dict[str, float | None] = {"started": None}


def install_wait_stamp() -> None:
    """Stamp when a page first waits for an unfinished background job: everything drawn before it shows then."""
    from metricbridge.ui import background

    original = background.wait

    def stamped(jobs: Any, *, what: str) -> Any:
        if _WAIT["started"] is None and not all(job.done for job in jobs):
            _WAIT["started"] = time.perf_counter()
        return original(jobs, what=what)

    background.wait = stamped  # type: ignore[assignment]


def demo_folder(data: BenchData) -> Path:
    """A demo folder holding the benchmark's file under the monitoring demo's name, with the demo's YAML files."""
    from metricbridge.ui.state import DEMOS

    folder = Path(tempfile.mkdtemp(prefix="mb-bench-monitoring-"))
    (folder / DEMOS["monitoring"].file).symlink_to(data.path)
    for sub in ("scenarios", "criteria"):
        (folder / sub).symlink_to(ROOT / "data" / sub)
    return folder


def run_stamped(ui: Any, at: Any) -> tuple[float, float | None, float | None]:
    """Rerun ``at``: wall ms, server ms and the ms until the page first waited for a job (None: it did not)."""
    _WAIT["started"] = None
    wall, server = ui.timed_run(at)
    requested, waited = ui._CLOCK["requested"], _WAIT["started"]
    return wall, server, None if waited is None or requested is None else 1000 * (waited - requested)


class AppBench:
    """The app section's rows (bench_ui's Row: server-side ms judged against a target)."""

    def __init__(self, ui: Any, data: BenchData, threshold: float, timeout: float) -> None:
        self.ui, self.data, self.threshold, self.timeout = ui, data, threshold, timeout
        self.label = f"{data.rows / 1e6:g}M rows"
        self.target = INTERACTION_BIG if data.rows >= BIG_FROM else INTERACTION
        self.rows: list[Any] = []

    def session(self) -> Any:
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=self.timeout)
        at.query_params.update({"demo": "monitoring", "model": "score", "threshold": f"{self.threshold:g}"})
        return at

    def open(self, at: Any, page: str, event: str, *, before: Callable[[], None] | None = None) -> None:
        """Time one run of ``page`` (a switch to it, or the first run of Home): the whole rerun, and what shows
        before the page waits for its verdicts."""
        if before is not None:
            before()
        if page != "home":
            at.switch_page(f"pages/{page}.py")
        wall, server, waited = run_stamped(self.ui, at)
        whole = self.ui.Row(self.label, page, f"{event}: with verdicts", None)
        whole.add(wall, server)
        whole.note_problems(at)
        self.rows.append(whole)
        if page != "home":
            early = self.ui.Row(self.label, page, f"{event}: shown before the verdicts", FIRST_OPEN)
            early.add(wall, waited if waited is not None else server, "waited" if waited is not None else "no wait")
            self.rows.append(early)
        log(f"app: {page}: {event}: {server or wall:,.0f} ms (before the wait: "
            f"{'-' if waited is None else f'{waited:,.0f}'} ms)")

    def move(self, at: Any, page: str, control: Any, moves: int, work: str) -> None:
        row = self.ui.move_control(at, self.label, page, control, moves, self.target)
        row.control = f"{row.control} ({work})"
        # the Monitoring page's headline is an error box when the latest window fails: that is its finding
        row.notes = [n for n in row.notes if not re.match(r"shows an error: (Day|Week|Month) \d", n)]
        self.rows.append(row)
        log(f"app: {page}: {row.control}: median {self.ui._ms(row.median)} ms, worst {self.ui._ms(row.worst)} ms")


def app_section(data: BenchData, threshold: float, *, moves: int, timeout: float, at_once: bool) -> list[Any]:
    """Section 3 (see the module docstring): Home counts the file, then Segments and Monitoring are opened and
    their controls moved; a new threshold on Metrics, then both pages again (new work for each). Unless
    ``at_once``, the pages are opened once the background passes Home starts for them have finished."""
    import os

    os.environ["METRICBRIDGE_DEMO_DIR"] = str(demo_folder(data))
    os.environ["METRICBRIDGE_DB"] = str(Path(tempfile.mkdtemp(prefix="mb-bench-db-")) / "bench.duckdb")
    with ui.quiet():
        import metricbridge.ui  # noqa: F401  (imported first: the first run times counting, not imports)

        ui.install_clock()
        install_wait_stamp()
        bench = AppBench(ui, data, threshold, timeout)
        at = bench.session()
        bench.open(at, "home", "first run (loads and counts the file)")
        if at.exception:
            return bench.rows
        if not at_once:  # a person reads Home first: the passes the pages open with finish meanwhile
            from metricbridge.ui import background

            start = time.perf_counter()
            background.while_busy("prefetch")
            waited = ui.Row(bench.label, "home", "then the prefetch's passes finish (ms after Home's run)", None)
            waited.add(1000 * (time.perf_counter() - start), 1000 * (time.perf_counter() - start))
            bench.rows.append(waited)
            log(f"app: prefetch done {waited.wall_ms[0]:,.0f} ms after Home's first run")
        bench.open(at, "segments", "first open")
        from metricbridge.charts import SEGMENT_FIGURES

        radio = ui.Control("figure radio", "radio", ("segment_figure",), ("Figure",),  # options are labels: keys
                           lambda element, n: ui._no_repeats(list(SEGMENT_FIGURES), element.value, n))
        bench.move(at, "segments", radio, moves, "redraw")
        bench.open(at, "monitoring", "first open")
        for key, label in (("drift_psi", "PSI above"), ("drift_ks", "KS p-value"),
                           ("drift_prevalence", "Share of positives")):
            control = ui.Control(f"{key} box", "number_input", (key,), (label,), ui.scaled_values)
            bench.move(at, "monitoring", control, moves, "re-judge drift")
        window = ui.Control("window radio", "radio", ("monitor_window",), ("Window",), ui.option_values)
        bench.move(at, "monitoring", window, 2, "new windows: count + bootstrap")
        reference = ui.Control("reference windows box", "number_input", ("monitor_reference",), ("Reference",),
                               ui.scaled_values)
        bench.move(at, "monitoring", reference, 2, "new reference: bootstrap")
        # the same pages in a second session: every stage cached by its inputs
        again = bench.session()
        again.run()
        bench.open(again, "segments", "open in a new session")
        bench.open(again, "monitoring", "open in a new session")
        # a new threshold on Metrics: the figures are new work on both pages
        at.switch_page("pages/metrics.py")
        at.run()
        box = ui.find(at, ui.Control("threshold box", "number_input", ("threshold_box",), ("Exact threshold",),
                                     ui.spread_values))
        if box is None:
            log("app: no threshold box on Metrics: the new-threshold opens are left out")
            return bench.rows
        new = round(float(box.value) * 1.1, 4)
        box.set_value(new)
        at.run()
        bench.open(at, "segments", f"open after a new threshold ({new:g})")
        bench.open(at, "monitoring", f"open after a new threshold ({new:g})")
    return bench.rows


# ----------------------------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------------------------


def core_table(core: Core) -> str:
    lines = [[step.section, step.step, "-" if step.seconds != step.seconds else f"{step.seconds:,.2f}",
              "; ".join(f"{k} {v}" for k, v in step.notes.items() if not isinstance(v, dict))[:110]]
             for step in core.steps]
    return table("Core: seconds of each step", ["section", "step", "seconds", "found"], lines, left=2)


def parse_args(argv: Sequence[str] | None) -> Any:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--bins", type=int, nargs="+", default=[10_000, 1_000])
    parser.add_argument("--resamples", type=int, default=1_000)
    parser.add_argument("--draw-budget-mb", type=float, default=4_000,
                        help="skip a bootstrap whose resamples would hold more than this")
    parser.add_argument("--moves", type=int, default=5, help="moves per control on a page")
    parser.add_argument("--timeout", type=float, default=1_800, help="seconds an AppTest run may take")
    parser.add_argument("--skip", nargs="*", choices=["core", "app"], default=[])
    parser.add_argument("--fresh", action="store_true", help="write the data file again")
    parser.add_argument("--at-once", action="store_true",
                        help="open Segments right after Home's first run, before the prefetch has finished")
    parser.add_argument("--write", action="store_true", help="append the figures to benchmarks/results.txt")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import json
    import os

    args = parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    started = dt.datetime.now().astimezone()
    data = make_data(int(args.rows), args.segments, args.weeks, fresh=args.fresh)
    log(f"data: {data.path} ({data.size_mb:,.0f} MB)")
    text = (f"bench_monitoring.py: {data.rows:,} rows, {data.segments} segments x {data.weeks} weeks "
            f"({data.size_mb:,.0f} MB Parquet); {started:%Y-%m-%d %H:%M}; {os.cpu_count()} cores\n\n")
    figures: dict[str, Any] = {"data": data.to_dict()}
    threshold = None
    if "core" not in args.skip:
        core, passes = core_section(data, bins_list=args.bins, resamples=args.resamples,
                                    budget_mb=args.draw_budget_mb)
        threshold = core.inputs.threshold
        text += core_table(core) + "\n"
        figures |= {"passes": passes, "steps": [s.to_dict() for s in core.steps]}
    if "app" not in args.skip:
        if threshold is None:
            from metricbridge.loading import load_predictions

            loaded = load_predictions(data.path, scores=["score"], labels_pending=True)
            threshold = threshold_at_flag_rate(loaded.counts("score"), 0.025)
        rows = app_section(data, threshold, moves=args.moves, timeout=args.timeout, at_once=args.at_once)
        text += ui.rows_table(f"App (AppTest, server-side ms of a rerun) at threshold {threshold:g}", rows)
        judged = [r for r in rows if r.passed is not None]
        text += f"\n{sum(1 for r in judged if r.passed)} of {len(judged)} judged rows meet their target\n"
        figures["app"] = [r.to_dict() for r in rows]
    print(text)
    print(json.dumps(figures, default=str))
    if args.write:
        with RESULTS.open("a") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
