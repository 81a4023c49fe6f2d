"""Counting data larger than memory: a 100-million-row Parquet folder counted where it lies (issue 12).

Sections (``--skip NAME ...`` leaves some out; each measurement runs in a subprocess of its own, so its peak
RSS is its own):

- ``data``: the folder, written once in chunks with pyarrow and kept under /tmp/metricbridge-bench (reused).
  Columns: ``label`` (int8, 5% positives), ``score`` (float64 from a logistic model: every score distinct),
  ``score_6dp`` (the score rounded to 6 decimals: about a million distinct scores, for exact counting) and
  ``segment`` (int8, 0-9).
- ``duckdb``: the floor, a plain DuckDB ``SELECT count(*), sum(score)`` over the files; then
  ``metricbridge.sources.open_source`` (view + validation) and ``counts`` binned (10,000 bins; the streamed
  count and the SQL GROUP BY), exact on ``score`` (refused: its cells would not fit, the message is printed) and
  exact on ``score_6dp`` (a DuckDB GROUP BY). Time, peak RSS (VmHWM), rows/s and file MB/s, and the time over
  the floor's. Target: peak RSS < 2 GiB for binned counting.
- ``accuracy``: exact ROC AUC and average precision of ``score`` at 1e8 rows, computed in DuckDB (a GROUP BY
  score and window sums over the distinct scores, out of core), against the binned counts' figures.
- ``spark``: Spark ``local[2]`` on 10 million rows (``--spark-rows``, a folder of ``--spark-parts`` files of its
  own): ``metricbridge.sources.spark.spark_counts`` binned, binned with a key and exact, against Spark's plain
  ``df.agg(count(*), sum(score))`` on the same DataFrame (the floor); needs pyspark and Java.

Run: .venv/bin/python benchmarks/bench_scale.py [--rows 1e8] [--parts 20] [--skip binned_sql] [--write]

It prints the figures, a table of targets, and one JSON line; ``--write`` appends the tables and the JSON line to
benchmarks/results.txt. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path("/tmp/metricbridge-bench")
RESULTS = Path(__file__).with_name("results.txt")
SECTIONS = ("data", "duckdb", "binned_sql", "accuracy", "spark")
GIB = 1 << 30


def log(message: str) -> None:
    print(f"[bench_scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data -------------------------------------------------------------------------------------------------------
def folder_for(rows: int, parts: int) -> Path:
    return CACHE / f"scale-v1-{rows}-{parts}"


def write_data(rows: int, parts: int) -> Path:
    """The folder of ``parts`` Parquet files holding ``rows`` rows, generated chunk by chunk (one part in memory
    at a time) with a fixed seed per part; reused when complete."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = folder_for(rows, parts)
    done = folder / "_COMPLETE"
    if done.exists():
        log(f"data: reusing {folder}")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    per_part = -(-rows // parts)
    started = time.perf_counter()
    for index in range(parts):
        n = min(per_part, rows - index * per_part)
        rng = np.random.default_rng(1000 + index)
        label = (rng.random(n) < 0.05).astype(np.int8)
        logit = rng.normal(0.0, 1.0, n) + 2.2 * label - 3.5  # a model of middling skill
        score = 1.0 / (1.0 + np.exp(-logit))
        table = pa.table({"label": label, "score": score, "score_6dp": np.round(score, 6),
                          "segment": rng.integers(0, 10, n).astype(np.int8)})
        pq.write_table(table, folder / f"part-{index:04d}.parquet", row_group_size=1 << 20)
        log(f"data: part {index + 1}/{parts} written ({n:,} rows)")
    done.write_text(json.dumps({"rows": rows, "parts": parts, "seconds": time.perf_counter() - started}))
    return folder


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("*.parquet"))


# -- measurements, each in a child process -----------------------------------------------------------------------
def peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _curve_figures(counts: Any) -> dict[str, Any]:
    from metricbridge.curve import curve_from_counts
    from metricbridge.metrics import average_precision, roc_auc

    curve = curve_from_counts(counts)
    return {"mode": counts.mode, "cells": counts.cells, "rows": counts.n_rows, "auc": roc_auc(curve),
            "ap": average_precision(curve)}


def child(case: str, folder: Path) -> dict[str, Any]:
    """One measurement; its figures (with this process's peak RSS)."""
    import duckdb

    from metricbridge import InputError
    from metricbridge.sources.local import connect, memory_budget, open_source

    started = time.perf_counter()
    figures: dict[str, Any] = {"case": case}
    files = f"read_parquet('{folder}/*.parquet')"
    if case == "floor":
        con = connect()
        rows, total = con.execute(f"SELECT count(*), sum(score) FROM {files}").fetchall()[0]
        figures |= {"rows": int(rows), "sum": float(total)}
    elif case == "floor_default":  # DuckDB as it comes: with its Parquet statistics, default settings
        rows, total = duckdb.connect().execute(f"SELECT count(*), sum(score) FROM {files}").fetchall()[0]
        figures |= {"rows": int(rows), "sum": float(total)}
    elif case.startswith("count"):
        _, mode, score, binning = case.split(":")
        opened = open_source(folder, label="label", scores=[score], binning=binning)
        figures["open_s"] = time.perf_counter() - started
        counting = time.perf_counter()
        try:
            counts = opened.counts(score, mode=mode)
            figures["count_s"] = time.perf_counter() - counting
            figures |= _curve_figures(counts)
        except InputError as refused:
            figures["count_s"] = time.perf_counter() - counting
            figures["refused"] = str(refused)
        figures["memory_limit_gib"] = memory_budget() / GIB
        figures["max_exact_cells"] = opened.max_exact_cells
    elif case == "exact_sql":  # exact AUC and AP in DuckDB: per distinct score, then running sums from the top
        con = connect(memory_limit=GIB)
        sql = f"""
            WITH cells AS (SELECT score AS s, count_if(label = 1)::DOUBLE AS p, count_if(label = 0)::DOUBLE AS n
                           FROM {files} GROUP BY score),
                 running AS (SELECT p, n, sum(p) OVER top AS tp, sum(n) OVER top AS fp FROM cells
                             WINDOW top AS (ORDER BY s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
            SELECT sum(n * (tp - p / 2)) / (sum(p) * sum(n)) AS auc, sum(p * tp / (tp + fp)) / sum(p) AS ap,
                   count(*) AS distinct_scores FROM running"""
        auc, ap, distinct = con.execute(sql).fetchall()[0]
        figures |= {"auc": float(auc), "ap": float(ap), "distinct_scores": int(distinct)}
    else:
        raise SystemExit(f"unknown case {case!r}")
    figures["seconds"] = time.perf_counter() - started
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


def run_child(case: str, folder: Path) -> dict[str, Any]:
    log(f"{case}: running in a subprocess")
    command = [sys.executable, __file__, "--child", case, "--folder", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{case} failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"{case}: {figures['seconds']:.1f} s, peak {figures['peak_rss_mib']:,.0f} MiB")
    return figures


# -- the report --------------------------------------------------------------------------------------------------
def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "-" * (sum(widths) + 2 * (len(widths) - 1))
    shown = [title, line, "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)), line]
    shown += ["  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([*shown, line])


# -- Spark ----------------------------------------------------------------------------------------------------------
def spark_section(rows: int, parts: int) -> tuple[str, dict[str, Any]]:
    """Spark local[2] on ``rows`` rows (the same generator, a folder of its own): ``spark_counts`` binned (10,000
    bins, and with the segment as a key) and exact (on ``score_6dp``) against Spark's own plain aggregation of the
    same DataFrame, ``df.agg(count(*), sum(score))``, the floor. Best of 3 (exact: once); Spark's JVM is warmed by
    one plain aggregation first. Binned AUC and AP are compared with exact counting in numpy of the same rows."""
    import pyarrow.parquet as pq

    from metricbridge import counts_from_arrays
    from metricbridge.sources.spark import local_session, spark_counts

    folder = write_data(rows, parts)
    started = time.perf_counter()
    spark = local_session(cores=2, memory="2g", shuffle_partitions=4, app="metricbridge-bench")
    session_s = time.perf_counter() - started
    from pyspark.sql import functions as F

    df = spark.read.parquet(str(folder))

    def best(run: Any, repeat: int = 3) -> tuple[float, Any]:
        times, result = [], None
        for _ in range(repeat):
            begun = time.perf_counter()
            result = run()
            times.append(time.perf_counter() - begun)
        return min(times), result

    def plain() -> Any:
        return df.agg(F.count(F.lit(1)), F.sum("score")).collect()[0]

    warm_s, _ = best(plain, 1)
    floor_s, (counted, total) = best(plain)
    log(f"spark: session {session_s:.1f} s, warm-up {warm_s:.1f} s, floor {floor_s:.2f} s ({counted:,} rows)")
    phases: dict[str, float] = {}

    def binned() -> Any:
        begun = time.perf_counter()

        def heard(fraction: float, what: str) -> None:
            phases.setdefault(what, time.perf_counter() - begun)

        phases.clear()
        return spark_counts(df, label="label", score="score", mode="binned", progress=heard)

    cases: dict[str, dict[str, Any]] = {}
    seconds, counts = best(binned)
    cases["spark_counts binned"] = {"seconds": seconds, "checked_s": phases.get("counting score"),
                                    **_curve_figures(counts)}
    binned_counts = counts
    seconds, counts = best(lambda: spark_counts(df, label="label", score="score", keys=["segment"], mode="binned"))
    cases["spark_counts binned, segment key"] = {"seconds": seconds, **_curve_figures(counts)}
    seconds, counts = best(lambda: spark_counts(df, label="label", score="score_6dp", mode="exact"), 1)
    cases["spark_counts exact (score_6dp)"] = {"seconds": seconds, **_curve_figures(counts)}
    spark.stop()
    for case, figures in cases.items():
        log(f"spark: {case}: {figures['seconds']:.2f} s ({figures['seconds'] / floor_s:.1f}x floor)")
    table_ = pq.read_table(folder, columns=["label", "score"])
    exact = _curve_figures(counts_from_arrays(table_.column("label").to_numpy(), table_.column("score").to_numpy(),
                                              mode="exact"))
    del table_
    auc_error = abs(cases["spark_counts binned"]["auc"] - exact["auc"])
    ap_error = abs(cases["spark_counts binned"]["ap"] - exact["ap"])
    figures = {"rows": rows, "parts": parts, "session_s": session_s, "warm_up_s": warm_s, "floor_s": floor_s,
               "floor_sum": float(total), "cases": cases, "exact_numpy": exact, "binned_auc_abs_error": auc_error,
               "binned_ap_rel_error": ap_error / exact["ap"], "binned_cells": binned_counts.cells}
    lines = [["df.agg(count, sum(score)) (floor)", f"{floor_s:.2f}", "1.0x", f"{rows / floor_s / 1e6:.1f}", "-", "-",
              "-", "-"]]
    for case, measured in cases.items():
        lines.append([case, f"{measured['seconds']:.2f}", f"{measured['seconds'] / floor_s:.1f}x",
                      f"{rows / measured['seconds'] / 1e6:.1f}", measured["mode"], f"{measured['cells']:,}",
                      f"{measured['auc']:.6f}", f"{measured['ap']:.6f}"])
    text = table(f"3. Spark local[2] (driver 2g, 4 shuffle partitions), {rows:,} rows in {parts} Parquet files: "
                 f"Spark's plain aggregation (the floor) and spark_counts, best of 3 (exact: 1); session start "
                 f"{session_s:.0f} s, first query {warm_s:.1f} s",
                 ["case", "seconds", "x floor", "Mrows/s", "mode", "cells", "ROC AUC", "AP"], lines)
    checked_s = cases["spark_counts binned"]["checked_s"] or 0.0
    text += (f"\nbinned (Spark's edges) against exact counting in numpy of the same rows: |dAUC| {auc_error:.1e}, "
             f"|dAP|/AP {ap_error / exact['ap']:.1e}; of the binned time, {checked_s:.1f} s went to the checks (one "
             "scan grouped by label), the rest to the edges' sample and the GROUP BY.")
    return text, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e8)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS)
    parser.add_argument("--spark-rows", type=float, default=1e7, help="rows of the Spark section")
    parser.add_argument("--spark-parts", type=int, default=4, help="Parquet files of the Spark section")
    parser.add_argument("--write", action="store_true", help="append the figures to benchmarks/results.txt")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.folder))))
        return
    rows, skip = int(args.rows), set(args.skip)
    started = time.perf_counter()
    folder = write_data(rows, args.parts) if "data" not in skip else folder_for(rows, args.parts)
    size = folder_bytes(folder)
    results: dict[str, Any] = {"rows": rows, "parts": args.parts, "folder": str(folder), "file_mb": size / 1e6,
                               "environment": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    import duckdb

    results["environment"]["duckdb"] = duckdb.__version__
    report: list[str] = []
    targets: list[tuple[str, float, bool]] = []
    if "duckdb" not in skip:
        cases = ["floor", "floor_default", "count:binned:score:stream"]
        cases += [] if "binned_sql" in skip else ["count:binned:score:sql"]
        cases += ["count:exact:score:stream", "count:exact:score_6dp:stream", "count:binned:score_6dp:stream"]
        measured = {case: run_child(case, folder) for case in cases}
        results["duckdb"] = measured
        floor = measured["floor"]["seconds"]
        lines = []
        for case, figures in measured.items():
            seconds = figures.get("count_s", figures["seconds"])
            whole = figures["seconds"]
            lines.append([case, f"{figures.get('open_s', 0):.1f}", f"{seconds:.1f}", f"{whole:.1f}",
                          f"{figures['peak_rss_mib']:,.0f}", f"{rows / whole / 1e6:,.1f}", f"{size / whole / 1e6:,.0f}",
                          f"{whole / floor:.1f}x", str(figures.get("mode", "refused" if "refused" in figures else "-")),
                          f"{figures.get('cells', 0):,}"])
        report.append(table(f"1. DuckDB, {rows:,} rows in {args.parts} Parquet files ({size / 1e6:,.0f} MB): the "
                            "floor (SELECT count(*), sum(score)) and metricbridge's counting, each in a subprocess",
                            ["case", "open s", "count s", "whole s", "peak MiB", "Mrows/s", "MB/s", "x floor", "mode",
                             "cells"], lines))
        refused = measured["count:exact:score:stream"].get("refused")
        if refused:
            report.append(f"exact counting of 'score' refused as designed:\n  {refused}")
        binned = measured["count:binned:score:stream"]
        targets.append(("binned count: peak RSS < 2 GiB (MiB)", binned["peak_rss_mib"], binned["peak_rss_mib"] < 2048))
    if "accuracy" not in skip:
        exact = run_child("exact_sql", folder)
        results["exact_sql"] = exact
        binned = results.get("duckdb", {}).get("count:binned:score:stream") or run_child(
            "count:binned:score:stream", folder)
        auc_error, ap_error = abs(binned["auc"] - exact["auc"]), abs(binned["ap"] - exact["ap"])
        results["accuracy"] = {"auc_abs_error": auc_error, "ap_abs_error": ap_error,
                               "ap_rel_error": ap_error / exact["ap"]}
        report.append(table(f"2. Binned (10,000 bins) against exact ROC AUC and AP at {rows:,} rows (exact: DuckDB "
                            f"GROUP BY score + window sums over {exact['distinct_scores']:,} distinct scores, "
                            f"{exact['seconds']:.0f} s, peak {exact['peak_rss_mib']:,.0f} MiB)",
                            ["figure", "exact", "binned", "abs error", "rel error"],
                            [["ROC AUC", f"{exact['auc']:.9f}", f"{binned['auc']:.9f}", f"{auc_error:.1e}",
                              f"{auc_error / exact['auc']:.1e}"],
                             ["AP", f"{exact['ap']:.9f}", f"{binned['ap']:.9f}", f"{ap_error:.1e}",
                              f"{ap_error / exact['ap']:.1e}"]]))
        targets.append(("binned |AUC - exact| <= 1e-4", auc_error, auc_error <= 1e-4))
        targets.append(("binned |AP - exact| / AP <= 1e-3", ap_error / exact["ap"], ap_error / exact["ap"] <= 1e-3))
    if "spark" not in skip:
        spark_text, results["spark"] = spark_section(int(args.spark_rows), args.spark_parts)
        report.append(spark_text)
    if targets:
        report.append(table("Targets", ["target", "value", "result"],
                            [[name, f"{value:.4g}", "PASS" if ok else "FAIL"] for name, value, ok in targets]))
        results["targets"] = [{"target": name, "value": value, "pass": ok} for name, value, ok in targets]
    results["wall_s"] = time.perf_counter() - started
    text = "\n\n".join(report) + "\n\n" + json.dumps(results)
    print(text)
    if args.write:
        with RESULTS.open("a") as handle:
            handle.write(f"\n\n7. Scale (benchmarks/bench_scale.py, issue 12)\n{text}\n")


if __name__ == "__main__":
    main()
