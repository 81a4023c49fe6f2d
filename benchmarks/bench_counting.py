"""Benchmark of metricbridge's counting path against scikit-learn, file loading, and peak memory.

Run from the repository root::

    .venv/bin/python benchmarks/bench_counting.py                      # 1e6 and 1e7 rows, best of 3
    .venv/bin/python benchmarks/bench_counting.py --sizes 1e6 --repeat 1
    .venv/bin/python benchmarks/bench_counting.py --skip arrays files memory   # the pipeline section alone
    .venv/bin/python benchmarks/bench_counting.py --skip arrays files memory --baseline-src /tmp/head
        # ... and the same commands on another checkout (e.g. `git archive HEAD | tar -x -C /tmp/head`)

It prints a table per section and, last, one JSON line holding every figure. Progress goes to stderr.
See benchmarks/README.md for what each figure means and the targets it is held to.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sklearn
from sklearn.metrics import precision_recall_curve, roc_curve

import metricbridge
from metricbridge.evaluate import evaluate_file
from metricbridge.loading import DEFAULT_BINS, load_predictions
from metricbridge.metrics import average_precision, roc_auc

PREVALENCE = 0.1
SEED = 0
SEGMENTS = ("north", "south", "east", "west")

# Targets (the figures the benchmark is held to).
EXACT_MAX_RATIO = 1.0  # exact counts + curve + AUC/AP time over scikit-learn's, at 1e7 rows
BINNED_MIN_SPEEDUP = 5.0  # scikit-learn's time over binned, at 1e7 rows
BINNED_MAX_ERROR = 1e-3  # |AUC_binned - AUC_exact| and |AP_binned - AP_exact|
CSV_MAX_LOAD_S = 3.0  # load_predictions of a 1e6-row CSV
MEMORY_MAX_RATIO = 3.0  # peak working memory over the raw label + score columns
TARGET_ROWS = 10_000_000
PIPELINE_MAX_S = {"parquet": 1.0, "csv": 2.5}  # `metricbridge evaluate FILE --json`, whole process, auto mode
# The same commands on the code before issue 9 (commit 76477f3, a `git archive` of it run with --baseline-src),
# measured in the run recorded in results.txt on the 2-core benchmark machine, which another engineer shared:
# exact mode must not be slower, and no peak RSS higher.
BASELINE_COMMIT = "76477f3"
BASELINE = {
    ("parquet", "auto"): {"seconds": 9.69, "peak_rss_mib": 460.0, "load_s": 1.73, "count_s": 4.21},
    ("parquet", "exact"): {"seconds": 14.03, "peak_rss_mib": 1896.0, "load_s": 1.44, "count_s": 3.18},
    ("csv", "auto"): {"seconds": 9.02, "peak_rss_mib": 534.0, "load_s": 2.22, "count_s": 3.46},
    ("csv", "exact"): {"seconds": 12.84, "peak_rss_mib": 1884.0, "load_s": 2.41, "count_s": 3.52},
}

Row = dict[str, Any]


_START = time.perf_counter()


def log(message: str) -> None:
    """A progress line on stderr, with the wall time since start."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# data ---------------------------------------------------------------------------------------------------
def make_data(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Labels (int64 0/1, 10% positives) and float64 scores N(0.3 + 0.3*y, 0.15) clipped to [0, 1].

    Almost every score is distinct (so exact mode sorts as much as scikit-learn does); the clipping
    gives the realistic ties at 0 and 1. Built in place so generation needs little beyond the output.
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < PREVALENCE).astype(np.int64)
    s = rng.normal(0.3, 0.15, n)
    np.add(s, 0.3, out=s, where=y.astype(bool))
    np.clip(s, 0.0, 1.0, out=s)
    return y, s


def write_file(path: Path, n: int, *, extras: bool = True) -> float:
    """Write a predictions file (CSV or Parquet by suffix): label, score and, with ``extras``, id and segment.

    Returns the seconds it took to write.
    """
    start = time.perf_counter()
    y, s = make_data(n)
    columns: dict[str, pa.Array] = {}
    if extras:
        columns["id"] = pc.binary_join_element_wise("row", pc.cast(pa.array(np.arange(n)), pa.string()), "-")
    columns |= {"label": pa.array(y), "score": pa.array(s)}
    if extras:
        codes = np.random.default_rng(SEED + 1).integers(0, len(SEGMENTS), n)
        columns["segment"] = pc.take(pa.array(SEGMENTS), pa.array(codes))
    table = pa.table(columns)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pa_csv.write_csv(table, path)
    return time.perf_counter() - start


# timing -------------------------------------------------------------------------------------------------
def repeated(run: Callable[[], Row], repeat: int) -> list[Row]:
    """``repeat`` runs, garbage collected before each."""
    runs = []
    for _ in range(repeat):
        gc.collect()
        runs.append(run())
    return runs


def best_of(run: Callable[[], Row], repeat: int) -> Row:
    """The run with the lowest ``total_s`` of ``repeat`` runs, with every run's total."""
    runs = repeated(run, repeat)
    best = min(runs, key=lambda r: r["total_s"])
    return best | {"all_total_s": [round(r["total_s"], 4) for r in runs]}


def run_ours(y: np.ndarray, s: np.ndarray, mode: str, bins: int) -> Row:
    """Time counts_from_arrays + curve_from_counts + roc_auc + average_precision, step by step."""
    t0 = time.perf_counter()
    counts = metricbridge.counts_from_arrays(y, s, mode=mode, bins=bins)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    curve = metricbridge.curve_from_counts(counts)
    t2 = time.perf_counter()
    auc, ap = roc_auc(curve), average_precision(curve)
    t3 = time.perf_counter()
    return {"counts_s": t1 - t0, "curve_s": t2 - t1, "metrics_s": t3 - t2, "total_s": t3 - t0,
            "auc": auc, "ap": ap, "cells": counts.cells, "mode": counts.mode}


def run_sklearn(y: np.ndarray, s: np.ndarray) -> Row:
    """Time precision_recall_curve + roc_curve; AUC and AP are then computed from their output, untimed."""
    t0 = time.perf_counter()
    precision, recall, _ = precision_recall_curve(y, s)
    t1 = time.perf_counter()
    fpr, tpr, _ = roc_curve(y, s)
    t2 = time.perf_counter()
    ap = float(-np.sum(np.diff(recall) * precision[:-1]))  # scikit-learn's average_precision_score
    auc = float(np.trapezoid(tpr, fpr))
    return {"pr_s": t1 - t0, "roc_s": t2 - t1, "total_s": t2 - t0, "auc": auc, "ap": ap}


def bench_arrays(n: int, repeat: int, bins: int) -> tuple[Row, Row]:
    """Sections 1 and 2 for one size: exact vs scikit-learn, and binned vs exact and scikit-learn."""
    y, s = make_data(n)
    log(f"n={n:,}: scikit-learn x{repeat}")
    sk = best_of(lambda: run_sklearn(y, s), repeat)
    log(f"n={n:,}: exact x{repeat}")
    exact = best_of(lambda: run_ours(y, s, "exact", bins), repeat)
    log(f"n={n:,}: binned x{repeat}")
    binned = best_of(lambda: run_ours(y, s, "binned", bins), repeat)
    exact_row = {
        "n": n, "distinct_scores": len(np.unique(s)), "exact": exact, "sklearn": sk,
        "ratio_exact_over_sklearn": exact["total_s"] / sk["total_s"],
        "auc_abs_diff_vs_sklearn": abs(exact["auc"] - sk["auc"]), "ap_abs_diff_vs_sklearn": abs(exact["ap"] - sk["ap"]),
    }
    binned_row = {
        "n": n, "bins": bins, "binned": binned, "sklearn_total_s": sk["total_s"], "exact_total_s": exact["total_s"],
        "speedup_vs_sklearn": sk["total_s"] / binned["total_s"],
        "speedup_vs_exact": exact["total_s"] / binned["total_s"],
        "auc_abs_error": abs(binned["auc"] - exact["auc"]), "ap_abs_error": abs(binned["ap"] - exact["ap"]),
    }
    return exact_row, binned_row


def run_file(path: Path) -> Row:
    """Time load_predictions alone, then evaluate_file (which loads again), on one file."""
    t0 = time.perf_counter()
    predictions = load_predictions(path)
    t1 = time.perf_counter()
    del predictions
    gc.collect()
    t2 = time.perf_counter()
    report = evaluate_file(path)
    t3 = time.perf_counter()
    model = report.models[0].to_dict()
    return {"load_s": t1 - t0, "evaluate_s": t3 - t2, "mode": model["counting"]["mode"],
            "cells": model["counting"]["cells"], "auc": model["roc_auc"], "ap": model["average_precision"],
            "rows": model["rows"]}


def bench_files(sizes: list[int], csv_max_rows: int, repeat: int, directory: Path) -> list[Row]:
    """Section 3: write CSV (up to ``csv_max_rows``) and Parquet files of each size, time loading them."""
    rows = []
    for n in sizes:
        for suffix in ("csv", "parquet"):
            if suffix == "csv" and n > csv_max_rows:
                continue
            path = directory / f"predictions_{n}.{suffix}"
            log(f"writing {path.name}")
            write_s = write_file(path, n)
            log(f"{path.name}: load_predictions + evaluate_file x{repeat}")
            runs = repeated(partial(run_file, path), repeat)
            loads, evaluates = [r["load_s"] for r in runs], [r["evaluate_s"] for r in runs]
            last = runs[-1]
            rows.append({"format": suffix, "n": n, "file_mb": path.stat().st_size / 2**20, "write_s": write_s,
                         "load_predictions_s": min(loads), "evaluate_file_s": min(evaluates),
                         "all_load_s": loads, "all_evaluate_s": evaluates, "mode": last["mode"],
                         "cells": last["cells"], "auc": last["auc"], "ap": last["ap"], "rows": last["rows"]})
    return rows


# memory -------------------------------------------------------------------------------------------------
def proc_status_kib() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in KiB."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def memory_child(case: str, n: int, path: str | None) -> None:
    """Run one memory case in this (fresh) process and print its figures as one JSON line on stdout.

    Everything is imported at module load, before this runs, so the baseline excludes imports.
    """
    after_imports = proc_status_kib()["VmRSS"]
    peak_reset_before = reset_peak()
    figures: Row = {"case": case, "n": n, "rss_after_imports_mib": after_imports / 1024}
    start = time.perf_counter()
    if case == "arrays_exact":
        y, s = make_data(n)
        after_inputs = proc_status_kib()["VmRSS"]
        figures["peak_of_generation_mib"] = proc_status_kib()["VmHWM"] / 1024
        figures["peak_reset"] = reset_peak()
        start = time.perf_counter()
        counts = metricbridge.counts_from_arrays(y, s, mode="exact")
        figures["cells"] = counts.cells
        stored = (getattr(counts, f) for f in (
            "scores", "labels", "rows", "weights", "score_sums", "brier_sums", "log_loss_sums"))
        figures["result_mib"] = sum(a.nbytes for a in stored if a is not None) / 2**20  # exact: raw sums derived
        raw = y.nbytes + s.nbytes
    elif case == "file_evaluate":
        assert path is not None
        after_inputs = after_imports
        figures["peak_reset"] = peak_reset_before
        report = evaluate_file(path)
        figures["cells"] = report.models[0].counts.cells
        figures["mode"] = report.models[0].counts.mode
        raw = n * (8 + 8)  # the file holds label int64 and score float64
    else:
        raise SystemExit(f"unknown memory case {case!r}")
    seconds = time.perf_counter() - start
    peak = proc_status_kib()["VmHWM"]
    figures |= {
        "seconds": seconds, "raw_columns_mib": raw / 2**20, "rss_after_inputs_mib": after_inputs / 1024,
        "peak_rss_mib": peak / 1024,
        "peak_above_imports_mib": (peak - after_imports) / 1024,
        "peak_above_inputs_mib": (peak - after_inputs) / 1024,
        "ratio_above_imports": (peak - after_imports) * 1024 / raw,
        "ratio_above_inputs": (peak - after_inputs) * 1024 / raw,
    }
    print(json.dumps(figures))


def run_memory_case(case: str, n: int, path: Path | None = None) -> Row:
    """Run ``memory_child`` in a subprocess and return its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", case, "--memory-rows", str(n)]
    if path is not None:
        command += ["--memory-path", str(path)]
    log(f"memory: {case} n={n:,} (subprocess)")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory case {case} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_memory(n: int, directory: Path) -> list[Row]:
    """Section 4: (a) exact counting of n-row arrays, (b) evaluate_file on an n-row label+score Parquet file."""
    rows = [run_memory_case("arrays_exact", n)]
    path = directory / f"label_score_{n}.parquet"
    log(f"writing {path.name}")
    write_file(path, n, extras=False)
    rows.append(run_memory_case("file_evaluate", n, path))
    return rows


# pipeline -----------------------------------------------------------------------------------------------
# Run in a fresh interpreter so imports count as they do for a user: the whole command (wall time and the peak
# RSS of that process alone, read by a wrapper with RUSAGE_CHILDREN), and, apart, load_predictions + counts
# timed inside a process that imports nothing but the loading layer.
_WHOLE_PROCESS = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
try:  # a DuckDB progress bar (older code, long queries) may come before the JSON object
    model = json.loads(done.stdout[done.stdout.index("{"):])["models"][0]
    found = {"mode": model["counting"]["mode"], "cells": model["counting"]["cells"], "auc": model["roc_auc"]}
except (ValueError, KeyError, IndexError):
    found = {}
print(json.dumps({"seconds": seconds, "peak_rss_mib": peak, "returncode": done.returncode,
                  "stderr": done.stderr[-2000:], **found}))
"""
_IN_PROCESS = r"""
import json, sys, time
start = time.perf_counter()
import duckdb, numpy
imported = time.perf_counter()
from metricbridge.loading import load_predictions
loading = time.perf_counter()
predictions = load_predictions(sys.argv[1])
loaded = time.perf_counter()
cells = [predictions.counts(score, mode=sys.argv[2]).cells for score in predictions.scores]
counted = time.perf_counter()
print(json.dumps({"import_numpy_duckdb_s": imported - start, "import_loading_s": loading - imported,
                  "load_s": loaded - loading, "count_s": counted - loaded, "cells": cells,
                  "modules": sorted(set(sys.modules) & {"pandas", "pyarrow", "sklearn", "yaml", "altair"})}))
"""


def write_label_score(path: Path, n: int) -> None:
    """A file of the issue's shape: label (int8) and score (float64), n rows, CSV or Parquet by suffix."""
    y, s = make_data(n)
    data = pa.table({"label": pa.array(y.astype(np.int8)), "score": pa.array(s)})
    if path.suffix == ".parquet":
        pq.write_table(data, path)
    else:
        pa_csv.write_csv(data, path)


def _child(code: str, args: list[str], source: Path | None) -> Row:
    """Run ``code`` in a fresh interpreter (with ``source``/src first on the path when given); its JSON line."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source / "src")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pipeline child failed:\n{done.stderr}")
    last = done.stdout.strip().splitlines()[-1]  # a DuckDB progress bar may share the line
    return json.loads(last[last.index("{"):])


def run_pipeline(path: Path, mode: str, repeat: int, source: Path | None) -> Row:
    """Best of ``repeat``: the whole `metricbridge evaluate FILE --json` process, then load + count in-process."""
    command = [sys.executable, "-m", "metricbridge", "evaluate", str(path), "--json", *(["--exact"] if mode == "exact"
                                                                                       else [])]
    whole = []
    for _ in range(repeat):
        run = _child(_WHOLE_PROCESS, command, source)
        if run["returncode"] not in (0, 1):
            raise RuntimeError(f"{' '.join(command)} failed:\n{run['stderr']}")
        whole.append(run)
    inside = [_child(_IN_PROCESS, [str(path), mode], source) for _ in range(repeat)]
    best, fastest = min(whole, key=lambda r: r["seconds"]), min(inside, key=lambda r: r["load_s"] + r["count_s"])
    return {"seconds": best["seconds"], "all_seconds": [round(r["seconds"], 3) for r in whole],
            "peak_rss_mib": min(r["peak_rss_mib"] for r in whole), "mode_used": best.get("mode"),
            "cells": best.get("cells"), "auc": best.get("auc"), "load_s": fastest["load_s"],
            "count_s": fastest["count_s"], "in_process_s": fastest["load_s"] + fastest["count_s"],
            "import_numpy_duckdb_s": fastest["import_numpy_duckdb_s"], "import_loading_s": fastest["import_loading_s"],
            "modules_after_counting": fastest["modules"]}


def bench_pipeline(n: int, repeat: int, directory: Path, files: list[str], baseline_src: Path | None) -> list[Row]:
    """Section 5: the whole command on n-row label + score Parquet and CSV files, auto and exact mode, against
    the baseline (measured now on ``baseline_src`` when given, else the recorded figures)."""
    paths = [Path(f) for f in files] or [directory / f"label_score_{n}.parquet", directory / f"label_score_{n}.csv"]
    rows = []
    for path in paths:
        if not path.exists():
            log(f"writing {path.name}")
            write_label_score(path, n)
        file_format = "parquet" if path.suffix == ".parquet" else "csv"
        for mode in ("auto", "exact"):
            log(f"pipeline: {path.name} {mode} x{repeat}")
            row = {"format": file_format, "mode": mode, "file": str(path), "file_mb": path.stat().st_size / 2**20,
                   "ours": run_pipeline(path, mode, repeat, None)}
            if baseline_src is not None:
                log(f"pipeline: {path.name} {mode} x{repeat} on {baseline_src}")
                row["baseline"] = run_pipeline(path, mode, repeat, baseline_src) | {"source": str(baseline_src)}
            else:
                row["baseline"] = BASELINE[(file_format, mode)] | {"source": f"recorded (1e7 rows), {BASELINE_COMMIT}"}
            rows.append(row)
    return rows


# report -------------------------------------------------------------------------------------------------
def table(title: str, header: list[str], lines: list[list[str]]) -> str:
    """A plain fixed-width table with a title."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    def fmt(cells: list[str]) -> str:
        return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True))
    rule = "-" * len(fmt(header))
    return "\n".join([title, rule, fmt(header), rule, *(fmt(line) for line in lines), rule, ""])


def at_target_size(rows: list[Row]) -> Row:
    """The row for 1e7 rows, or the largest size measured."""
    return next((r for r in rows if r["n"] == TARGET_ROWS), max(rows, key=lambda r: r["n"]))


def target(name: str, value: float, passed: bool) -> Row:
    """One target line: what is held to what, the figure, and the verdict."""
    return {"target": name, "value": value, "pass": bool(passed)}


def check_targets(exact: list[Row], binned: list[Row], files: list[Row], memory: list[Row],
                  pipeline: list[Row] | None = None) -> list[Row]:
    """Each target with the figure it is judged on and whether it passes."""
    targets = []
    for row in pipeline or []:
        ours, before = row["ours"], row["baseline"]
        if row["mode"] == "auto":
            limit = PIPELINE_MAX_S[row["format"]]
            targets.append(target(f"pipeline {row['format']} auto: whole process <= {limit:g} s", ours["seconds"],
                                  ours["seconds"] <= limit))
        else:
            targets.append(target(f"pipeline {row['format']} exact: whole process <= before "
                                  f"({before['seconds']:.2f} s)", ours["seconds"],
                                  ours["seconds"] <= before["seconds"]))
        targets.append(target(f"pipeline {row['format']} {row['mode']}: peak RSS <= before "
                              f"({before['peak_rss_mib']:.0f} MiB)", ours["peak_rss_mib"],
                              ours["peak_rss_mib"] <= before["peak_rss_mib"]))
    if exact:
        ratio = at_target_size(exact)["ratio_exact_over_sklearn"]
        targets.append(target(f"exact time / sklearn <= {EXACT_MAX_RATIO} at n={at_target_size(exact)['n']:,}",
                              ratio, ratio <= EXACT_MAX_RATIO))
        speedup = at_target_size(binned)["speedup_vs_sklearn"]
        targets.append(target(f"binned speed-up vs sklearn >= {BINNED_MIN_SPEEDUP} at "
                              f"n={at_target_size(binned)['n']:,}", speedup, speedup >= BINNED_MIN_SPEEDUP))
        for row in binned:
            worst = max(row["auc_abs_error"], row["ap_abs_error"])
            targets.append(target(f"binned max(|dAUC|, |dAP|) <= {BINNED_MAX_ERROR:g} at n={row['n']:,}",
                                  worst, worst <= BINNED_MAX_ERROR))
    for row in files:
        if row["format"] == "csv" and row["n"] == 1_000_000:
            seconds = row["load_predictions_s"]
            targets.append(target(f"load_predictions of 1e6-row CSV < {CSV_MAX_LOAD_S:g} s", seconds,
                                  seconds < CSV_MAX_LOAD_S))
    for row in memory:
        key = "ratio_above_inputs" if row["case"] == "arrays_exact" else "ratio_above_imports"
        targets.append(target(f"memory {row['case']} n={row['n']:,}: {key} < {MEMORY_MAX_RATIO:g}x raw",
                              row[key], row[key] < MEMORY_MAX_RATIO))
    return targets


def report(exact: list[Row], binned: list[Row], files: list[Row], memory: list[Row], targets: list[Row],
           pipeline: list[Row] | None = None) -> str:
    """Every section as a readable table."""
    out = []
    if exact:
        out.append(table(
            "1. Exact: counts_from_arrays(mode='exact') + curve_from_counts + roc_auc + average_precision "
            "vs sklearn precision_recall_curve + roc_curve (best of N, seconds)",
            ["rows", "distinct", "counts", "curve", "auc+ap", "ours", "sk pr", "sk roc", "sklearn",
             "ours/sk", "|AUC-sk|", "|AP-sk|"],
            [[f"{r['n']:,}", f"{r['distinct_scores']:,}", f"{r['exact']['counts_s']:.3f}",
              f"{r['exact']['curve_s']:.3f}", f"{r['exact']['metrics_s']:.3f}", f"{r['exact']['total_s']:.3f}",
              f"{r['sklearn']['pr_s']:.3f}", f"{r['sklearn']['roc_s']:.3f}", f"{r['sklearn']['total_s']:.3f}",
              f"{r['ratio_exact_over_sklearn']:.2f}x",
              f"{r['auc_abs_diff_vs_sklearn']:.1e}", f"{r['ap_abs_diff_vs_sklearn']:.1e}"] for r in exact]))
        out.append(table(
            "2. Binned: counts_from_arrays(mode='binned') + curve + AUC/AP (best of N, seconds)",
            ["rows", "bins", "cells", "counts", "curve", "auc+ap", "binned", "sklearn", "speed-up", "vs exact",
             "|dAUC|", "|dAP|"],
            [[f"{r['n']:,}", f"{r['bins']:,}", f"{r['binned']['cells']:,}", f"{r['binned']['counts_s']:.3f}",
              f"{r['binned']['curve_s']:.4f}", f"{r['binned']['metrics_s']:.4f}", f"{r['binned']['total_s']:.3f}",
              f"{r['sklearn_total_s']:.3f}", f"{r['speedup_vs_sklearn']:.2f}x", f"{r['speedup_vs_exact']:.2f}x",
              f"{r['auc_abs_error']:.1e}", f"{r['ap_abs_error']:.1e}"] for r in binned]))
    if files:
        out.append(table(
            "3. Files (id, label, score, segment): load_predictions alone and evaluate_file (auto mode), "
            "best of N, seconds",
            ["format", "rows", "MiB", "write", "load_predictions", "evaluate_file", "mode", "cells", "AUC"],
            [[r["format"], f"{r['n']:,}", f"{r['file_mb']:.1f}", f"{r['write_s']:.2f}",
              f"{r['load_predictions_s']:.3f}", f"{r['evaluate_file_s']:.3f}", r["mode"], f"{r['cells']:,}",
              f"{r['auc']:.6f}"] for r in files]))
    if memory:
        out.append(table(
            "4. Peak memory (subprocess per case; MiB; raw = label + score columns; result = the ScoreCounts arrays)",
            ["case", "rows", "raw", "peak RSS", "above imports", "x raw", "above inputs", "x raw", "cells",
             "result", "seconds"],
            [[r["case"], f"{r['n']:,}", f"{r['raw_columns_mib']:.0f}", f"{r['peak_rss_mib']:.0f}",
              f"{r['peak_above_imports_mib']:.0f}", f"{r['ratio_above_imports']:.2f}x",
              f"{r['peak_above_inputs_mib']:.0f}", f"{r['ratio_above_inputs']:.2f}x", f"{r['cells']:,}",
              f"{r['result_mib']:.0f}" if "result_mib" in r else "-", f"{r['seconds']:.1f}"] for r in memory]))
    if pipeline:
        def figures(r: Row) -> list[str]:
            return [f"{r['seconds']:.2f}", f"{r['peak_rss_mib']:.0f}", f"{r['load_s']:.2f}", f"{r['count_s']:.2f}"]
        out.append(table(
            "5. Pipeline: `python -m metricbridge evaluate FILE --json` on label (int8) + score (float64) files, "
            "whole process and, apart, load_predictions + counts in-process (best of N; seconds, MiB)",
            ["format", "rows", "mode", "whole", "peak RSS", "load", "count", "imports", "cells",
             "before: whole", "peak RSS", "load", "count", "baseline"],
            [[r["format"], f"{TARGET_ROWS if 'n' not in r else r['n']:,}", r["mode"], *figures(r["ours"]),
              f"{r['ours']['import_numpy_duckdb_s'] + r['ours']['import_loading_s']:.2f}",
              f"{r['ours']['cells'] or 0:,}", *figures(r["baseline"]), r["baseline"]["source"]] for r in pipeline]))
    out.append(table("Targets", ["target", "value", "result"],
                     [[t["target"], f"{t['value']:.4g}", "PASS" if t["pass"] else "FAIL"] for t in targets]))
    return "\n".join(out)


def environment() -> Row:
    """Versions and machine, so figures can be compared across runs."""
    return {"python": platform.python_version(), "numpy": np.__version__, "sklearn": sklearn.__version__,
            "duckdb": duckdb.__version__, "pyarrow": pa.__version__, "metricbridge": metricbridge.__version__,
            "cpus": os.cpu_count(), "machine": platform.machine()}


# main ---------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7], help="row counts (default 1e6 1e7)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats, the best is kept (default 3)")
    parser.add_argument("--bins", type=int, default=DEFAULT_BINS, help="bins of binned mode (default 10,000)")
    parser.add_argument("--csv-max-rows", type=float, default=1e7,
                        help="largest size also written as CSV (default 1e7; Parquet is written at every size)")
    parser.add_argument("--memory-rows", type=float, default=None,
                        help="rows of the memory cases (default: the largest size)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["arrays", "files", "memory", "pipeline"],
                        help="sections to leave out")
    parser.add_argument("--pipeline-rows", type=float, default=TARGET_ROWS,
                        help="rows of the pipeline files (default 1e7)")
    parser.add_argument("--pipeline-files", nargs="*", default=[], metavar="FILE",
                        help="label + score files to run the pipeline on (written when missing; default: a "
                             "Parquet and a CSV file in a temporary directory)")
    parser.add_argument("--baseline-src", type=Path, default=None, metavar="DIR",
                        help="a checkout of the code to compare with (its src/ goes first on PYTHONPATH); "
                             "without it the recorded baseline figures are shown")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-path", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, int(args.memory_rows), args.memory_path)
        return
    sizes = sorted({int(size) for size in args.sizes})
    memory_rows = int(args.memory_rows or max(sizes))
    log(f"sizes {sizes}, repeat {args.repeat}, bins {args.bins}")
    exact, binned, files, memory = [], [], [], []
    if "arrays" not in args.skip:
        for n in sizes:
            exact_row, binned_row = bench_arrays(n, args.repeat, args.bins)
            exact.append(exact_row)
            binned.append(binned_row)
    with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
        if "files" not in args.skip:
            files = bench_files(sizes, int(args.csv_max_rows), args.repeat, Path(tmp))
        if "memory" not in args.skip:
            memory = bench_memory(memory_rows, Path(tmp))
        pipeline = [] if "pipeline" in args.skip else bench_pipeline(
            int(args.pipeline_rows), args.repeat, Path(tmp), args.pipeline_files, args.baseline_src)
    for row in pipeline:
        row["n"] = int(args.pipeline_rows)
    targets = check_targets(exact, binned, files, memory, pipeline)
    log("done")
    print(report(exact, binned, files, memory, targets, pipeline))
    figures = {"environment": environment(), "repeat": args.repeat, "exact": exact, "binned": binned,
               "files": files, "memory": memory, "pipeline": pipeline, "targets": targets,
               "wall_s": time.perf_counter() - _START}
    print(json.dumps(figures, default=float))


if __name__ == "__main__":
    main()
