"""How long recomputing every outcome takes after a scenario edit (target: under 20 ms for a curve of
10,000 thresholds), and the same for the status quo, tornado and cost-ratio views.

Run: .venv/bin/python benchmarks/bench_outcomes.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge.outcomes import outcomes_at_rates, outcomes_for_curve
from metricbridge.scenario import load_scenario
from metricbridge.sensitivity import cost_ratio_range, tornado

SCENARIO = """\
volume: 20000
capacity: 300
minutes_per_action: 6
cost_per_hour: 40
value: {caught: {column: amount, times: 0.9}, missed: 0, false_alarm: -5, left_alone: 0}
status_quo:
  - {name: Review everything, recall: 0.9, false_alarm_rate: 0.02, effort_share: 1.0}
"""


def best_of(function: Callable[[], object], repeat: int = 50) -> float:
    """Best wall time of ``repeat`` calls, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    y = (rng.random(n) < 0.02).astype(int)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.15), 0, 1)
    amount = rng.lognormal(4, 1, n)
    curve = curve_from_counts(counts_from_arrays(y, s, mode="binned", bins=10_500, sums={"amount": amount}))
    scenario = load_scenario("bench.yaml", text=SCENARIO)
    edited = scenario.with_changes(volume=25_000)
    figures = {
        "thresholds": len(curve.thresholds),
        "outcomes_ms": best_of(lambda: outcomes_for_curve(curve, edited)),
        "edit_and_outcomes_ms": best_of(lambda: outcomes_for_curve(curve, scenario.with_changes(volume=25_000))),
        "status_quo_ms": best_of(lambda: outcomes_at_rates(edited.status_quo[0], edited, reference=curve)),
        "tornado_ms": best_of(lambda: tornado(curve, edited), repeat=5),
        "cost_ratio_ms": best_of(lambda: cost_ratio_range(curve, edited, index=100), repeat=10),
    }
    print(f"curve of {figures['thresholds']:,} thresholds")
    for key, value in figures.items():
        if key.endswith("_ms"):
            print(f"  {key[:-3]:<20} {value:8.2f} ms")
    verdict = "PASS" if figures["edit_and_outcomes_ms"] < 20 else "FAIL"
    print(f"target: a scenario edit recomputes all outcomes in < 20 ms: {verdict}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
