"""Write the bootstrap figures that later changes must keep: verdicts, intervals, chosen thresholds and
bands on both demo sets and on random data, same seeds.

First written with the code before issue 9's restructuring (commit 78c1a53), which the restructured code
reproduced (to 1e-9; between coarse thresholds within Monte Carlo error). Written again for issue 10, whose
changes move these figures on purpose: the chosen threshold keeps a margin of the resamples' Monte Carlo
error above the confidence, and cells resample the spread of their rows' weights and amounts. A change that
is not meant to move a figure must leave this file as it is. Run: .venv/bin/python tests/data/golden/make_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).with_name("bootstrap_figures.json")

RANDOM_SCENARIO = """\
volume: 5000
capacity: 400
minutes_per_action: 5
cost_per_hour: 40
value: {caught: {column: amount, times: 0.8}, false_alarm: -4}
status_quo:
  - {name: Rule, column: rule}
  - {name: Do nothing, recall: 0, false_alarm_rate: 0}
"""
RANDOM_CRITERIA = """\
name: random
version: 1
confidence: 0.85
criteria:
  - {metric: recall, at_least: 0.4}
  - {metric: actions, at_most: 400}
  - {metric: caught, at_least: 1.1, relative_to: Rule}
  - {metric: value, at_least: 100}
  - {metric: roc_auc, at_least: 0.7}
  - {metric: brier, at_most: 0.2}
"""


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _bands(frame) -> dict:
    """Every 10th row of a band frame (and the last): enough to catch any change, a tenth of the size."""
    rows = sorted({*range(0, len(frame), 10), len(frame) - 1})
    return {column: _plain(frame[column].iloc[rows].tolist()) for column in frame.columns}


def _report_bands(report, model: str):
    """A model's bands: ``report.bands(model)`` since issue 9, the verdicts' ``bands`` before."""
    return report.bands(model) if hasattr(report, "bands") else report.verdicts[model].bands


def random_case(seed: int, n: int, weighted: bool) -> dict:
    from metricbridge import counts_from_arrays
    from metricbridge.criteria import load_criteria
    from metricbridge.judge import choose_threshold, judge
    from metricbridge.scenario import load_scenario

    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.08).astype(np.int8)
    s = np.round(np.clip(rng.normal(0.35 + 0.25 * y, 0.17), 0, 1), 4)
    amount = rng.lognormal(3, 1, n)
    rule = ((amount > 60) | (rng.random(n) < 0.05)).astype(np.int8)
    w = rng.integers(1, 4, n).astype(float) if weighted else None
    counts = counts_from_arrays(y, s, sample_weight=w, keys={"rule": rule}, sums={"amount": amount})
    scenario = load_scenario("s.yaml", text=RANDOM_SCENARIO)
    criteria = load_criteria("c.yaml", text=RANDOM_CRITERIA)
    choice, bands = choose_threshold(counts, criteria, scenario, resamples=400, seed=seed, bins=300)
    at = choice.chosen if choice.chosen is not None else choice.closest
    result = judge(counts, criteria, scenario, threshold=at, choice=choice, bands=bands, resamples=400,
                   seed=seed, bins=300)
    return {"seed": seed, "n": n, "weighted": weighted, "result": _plain(result.to_dict()),
            "intervals": _plain(result.intervals), "differences": _plain(result.differences),
            "bands": _bands(bands)}


def demo_case(data: str, name: str, off_grid: tuple[float, ...]) -> dict:
    from metricbridge.criteria import load_criteria
    from metricbridge.evaluate import evaluate_file
    from metricbridge.scenario import load_scenario

    report = evaluate_file(ROOT / "data" / data, scenario=load_scenario(ROOT / "data" / "scenarios" / name),
                           criteria=load_criteria(ROOT / "data" / "criteria" / name))
    case = {"report": _plain(report.to_dict()),
            "bands": {m: _bands(_report_bands(report, m)) for m in report.verdicts}, "off_grid": {}}
    for threshold in off_grid:
        judged = report.judged_at(threshold)
        case["off_grid"][str(threshold)] = {
            m: {"result": _plain(r.to_dict()), "intervals": _plain(r.intervals)} for m, r in judged.verdicts.items()}
    return case


def main() -> None:
    golden = {
        "fraud": demo_case("fraud_transactions.parquet", "demo_fraud.yaml", (0.3, 0.45)),
        "tickets": demo_case("support_tickets.parquet", "demo_tickets.yaml", (0.35,)),
        "random": [random_case(seed, n, weighted) for seed, n, weighted in
                   ((1, 3000, False), (2, 5000, True), (3, 20000, False))],
    }
    OUT.write_text(json.dumps(golden, indent=None, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
