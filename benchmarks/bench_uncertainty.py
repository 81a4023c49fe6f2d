"""Bootstrap cost: 1,000 resamples of the verdicts plus the curve bands, at 1e6 and 1e7 rows.

Target: under 2 s at 1e6 rows, and the same at 1e7 (the cost follows the cells, not the rows).
Run: .venv/bin/python benchmarks/bench_uncertainty.py [--sizes 1e6 1e7]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from metricbridge import counts_from_arrays
from metricbridge.criteria import load_criteria
from metricbridge.judge import choose_threshold, judge
from metricbridge.scenario import load_scenario

SCENARIO = """\
volume: 20000
capacity: 600
minutes_per_action: 6
cost_per_hour: 45
value: {caught: {column: amount, times: 0.9}, false_alarm: -8}
status_quo:
  - {name: Rule, column: rule}
  - {name: Do nothing, recall: 0, false_alarm_rate: 0}
"""
CRITERIA = """\
name: bench
version: 1
criteria:
  - {metric: recall, at_least: 0.5}
  - {metric: actions, at_most: 600}
  - {metric: caught, at_least: 1.2, relative_to: Rule}
  - {metric: value, at_least: 10000}
  - {metric: roc_auc, at_least: 0.8}
"""


def measure(n: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.02).astype(np.int8)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.15), 0, 1)
    amount = rng.lognormal(4, 1, n)
    rule = ((amount > 300) | (rng.random(n) < 0.01)).astype(np.int8)
    start = time.perf_counter()
    counts = counts_from_arrays(y, s, keys={"rule": rule}, sums={"amount": amount})
    counting = time.perf_counter() - start
    scenario, criteria = load_scenario("s.yaml", text=SCENARIO), load_criteria("c.yaml", text=CRITERIA)
    start = time.perf_counter()
    choice, bands = choose_threshold(counts, criteria, scenario, resamples=1000, seed=0, bins=1000)
    chosen = time.perf_counter() - start
    start = time.perf_counter()
    result = judge(counts, criteria, scenario, threshold=choice.chosen or choice.closest or 0.5, choice=choice,
                   bands=bands, resamples=1000, seed=0, bins=1000)
    judged = time.perf_counter() - start
    return {"rows": n, "cells": counts.cells, "mode": counts.mode, "counting_s": counting,
            "choose_and_bands_s": chosen, "verdicts_s": judged, "bootstrap_total_s": chosen + judged,
            "met": result.met}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    sizes = [int(size) for size in parser.parse_args().sizes]
    rows = [measure(n) for n in sizes]
    header = ("rows", 12), ("cells", 8), ("mode", 7), ("counting", 9), ("choice+bands", 13), ("verdicts", 9), (
        "bootstrap", 10)
    print(" ".join(f"{name:>{width}}" for name, width in header))
    for row in rows:
        print(f"{row['rows']:>12,} {row['cells']:>8,} {row['mode']:>7} {row['counting_s']:>8.2f}s "
              f"{row['choose_and_bands_s']:>12.2f}s {row['verdicts_s']:>8.2f}s {row['bootstrap_total_s']:>9.2f}s")
    for row in rows:
        verdict = "PASS" if row["bootstrap_total_s"] < 2.0 else "FAIL"
        print(f"target: 1,000 resamples of verdicts + bands at {row['rows']:,} rows < 2 s: {verdict}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
