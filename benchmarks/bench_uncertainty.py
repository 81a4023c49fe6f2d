"""Bootstrap cost: 1,000 resamples of the verdicts plus the curve bands, at 1e6 and 1e7 rows.

Target (issue 9): 1,000 resamples of verdicts plus bands <= 0.3 s, independent of n; a new confidence or
target, and verdicts at another threshold, cost no new draw (milliseconds).
Each stage is timed on its own (best of --repeat), as the app and the CLI run them:

- draw: ``build_bootstrap`` (coarse cells, the multinomial draws, the batch of curves, the status quo's
  decisions on the same draws, resampled AUC/AP/Brier/log loss), of which the bare multinomial draw is
  shown alone;
- scenario: ``resampled(bootstrap, scenario)`` (outcomes per resample, read lazily by what follows);
- choose: ``choose`` on a bootstrap with nothing computed yet (so the outcomes it reads are computed too:
  probabilities per threshold, the chosen threshold and its spread);
- verdicts: ``verdicts`` at the chosen threshold, and at a threshold between two coarse ones (the split);
- bands: ``bands`` at the 500 thresholds a chart draws;
- new confidence: ``choose`` + ``verdicts`` again with the confidence moved (nothing drawn).

Run: .venv/bin/python benchmarks/bench_uncertainty.py [--sizes 1e6 1e7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from metricbridge import counts_from_arrays
from metricbridge.criteria import load_criteria
from metricbridge.judge import bands, choose, resampled, verdicts
from metricbridge.scenario import load_scenario
from metricbridge.uncertainty import build_bootstrap, coarse_cells

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
TARGET_S = 0.3


def _best(work: Callable[[], object], repeat: int, fresh: Callable[[], object] | None = None) -> tuple[float, object]:
    """Best time of ``work`` (given a new ``fresh()`` each time, made outside the clock), and its result."""
    times, result = [], None
    for _ in range(repeat):
        given = fresh() if fresh is not None else None
        start = time.perf_counter()
        result = work(given) if fresh is not None else work()  # type: ignore[call-arg]
        times.append(time.perf_counter() - start)
    return min(times), result


def measure(n: int, repeat: int) -> dict[str, float | int | str]:
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.02).astype(np.int8)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.15), 0, 1)
    amount = rng.lognormal(4, 1, n)
    rule = ((amount > 300) | (rng.random(n) < 0.01)).astype(np.int8)
    counting, counts = _best(lambda: counts_from_arrays(y, s, keys={"rule": rule}, sums={"amount": amount}), 1)
    scenario, criteria = load_scenario("s.yaml", text=SCENARIO), load_criteria("c.yaml", text=CRITERIA)
    cells, _ = coarse_cells(counts, 1000)
    bare_draw, _ = _best(lambda: np.random.default_rng(0).multinomial(cells.n_rows, cells.rows / cells.n_rows,
                                                                       size=1000), repeat)
    draw_s, boot = _best(lambda: build_bootstrap(counts, decisions=("rule",), resamples=1000, seed=0), repeat)

    def untouched() -> object:  # the bootstrap as drawn: nothing computed under any scenario yet
        return replace(boot, memo={}, kept={})

    def chosen_figures() -> object:
        figures = resampled(untouched(), scenario)
        return figures, choose(figures, criteria)

    scenario_s, _ = _best(lambda b: resampled(b, scenario), repeat, untouched)
    choose_s, _ = _best(lambda b: choose(resampled(b, scenario), criteria), repeat, untouched)
    figures, choice = chosen_figures()
    chosen = choice.threshold
    verdicts_s, _ = _best(lambda: verdicts(figures, criteria, threshold=chosen, choice=choice), repeat)
    between = float((boot.thresholds[200] + boot.thresholds[201]) / 2)
    split_s, _ = _best(lambda: verdicts(figures, criteria, threshold=between, choice=choice), repeat)
    bands_s, _ = _best(lambda fc: bands(fc[0], criteria.confidence, max_points=500), repeat, chosen_figures)
    moved = replace(criteria, confidence=0.8)
    confidence_s, _ = _best(lambda: verdicts(figures, moved, threshold=chosen, choice=choose(figures, moved)),
                            repeat)
    total = draw_s + choose_s + verdicts_s + bands_s  # choose includes the scenario's outcomes
    return {"rows": n, "cells": counts.cells, "coarse_cells": cells.cells, "mode": counts.mode,
            "counting_s": counting, "bare_multinomial_s": bare_draw, "draw_s": draw_s, "scenario_s": scenario_s,
            "choose_s": choose_s, "verdicts_s": verdicts_s, "verdicts_between_s": split_s, "bands_s": bands_s,
            "new_confidence_s": confidence_s, "bootstrap_total_s": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [measure(int(size), args.repeat) for size in args.sizes]
    columns = [("rows", "rows", ",", 11), ("coarse cells", "coarse_cells", ",", 12),
               ("multinomial", "bare_multinomial_s", ".3f", 11), ("draw", "draw_s", ".3f", 6),
               ("scenario", "scenario_s", ".3f", 8), ("choose*", "choose_s", ".3f", 7),
               ("verdicts", "verdicts_s", ".3f", 8), ("between", "verdicts_between_s", ".3f", 7),
               ("bands", "bands_s", ".3f", 6), ("TOTAL", "bootstrap_total_s", ".3f", 6),
               ("new confidence", "new_confidence_s", ".4f", 14)]
    print(f"Bootstrap of one model, 1,000 resamples, seconds (best of {args.repeat})")
    print("  ".join(f"{title:>{width}}" for title, _, _, width in columns))
    for row in rows:
        print("  ".join(f"{row[key]:>{width}{fmt}}" for _, key, fmt, width in columns))
    for row in rows:
        verdict = "PASS" if row["bootstrap_total_s"] <= TARGET_S else "FAIL"
        print(f"target: 1,000 resamples of verdicts + bands at {row['rows']:,} rows <= {TARGET_S} s: "
              f"{row['bootstrap_total_s']:.3f} s {verdict}  (the multinomial draw alone: "
              f"{row['bare_multinomial_s']:.3f} s)")
    print("choose* includes the scenario's outcomes; TOTAL = draw + choose* + verdicts + bands")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
