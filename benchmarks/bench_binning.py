"""What binned counting costs in accuracy: binned against exact ROC AUC and average precision.

Issue 10: with rare positives, bin edges from the quantiles of all scores lumped many positives with the
negatives around them, and average precision (decided by where each positive ranks) was off by about 4% of
its value at 10,000 bins. The edges now also follow the positives' scores (half the bins), and when the
positives are fewer than half the bins each positive's score is an edge, which makes AP exact. This prints
the worst error over a few seeds per prevalence and bin count, for the notes that binned output carries.

Run: .venv/bin/python benchmarks/bench_binning.py [--rows 1e6] [--seeds 3]
"""

from __future__ import annotations

import argparse

import numpy as np

from metricbridge import counts_from_arrays, curve_from_counts
from metricbridge import metrics as m


def errors(rows: int, prevalence: float, bins: int, seeds: int) -> tuple[float, float, float]:
    """(worst |AUC binned - exact|, worst |AP binned - exact| / AP, AP) over ``seeds`` data sets."""
    auc_error = ap_error = ap = 0.0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        y = (rng.random(rows) < prevalence).astype(np.int8)
        s = 1 / (1 + np.exp(-(rng.normal(0, 1, rows) + 2.0 * y - 4)))  # a model of middling skill
        exact = curve_from_counts(counts_from_arrays(y, s, mode="exact"))
        binned = curve_from_counts(counts_from_arrays(y, s, mode="binned", bins=bins))
        ap = m.average_precision(exact) or np.nan
        auc_error = max(auc_error, abs((m.roc_auc(binned) or np.nan) - (m.roc_auc(exact) or np.nan)))
        ap_error = max(ap_error, abs((m.average_precision(binned) or np.nan) - ap) / ap)
    return auc_error, ap_error, ap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e6)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"Binned against exact counting, {int(args.rows):,} rows, worst of {args.seeds} seeds")
    print(f"{'positives':>9}  {'bins':>6}  {'AUC abs error':>13}  {'AP rel error':>12}  {'AP':>6}")
    for prevalence in (0.002, 0.02, 0.2):
        for bins in (1_000, 10_000):
            auc_error, ap_error, ap = errors(int(args.rows), prevalence, bins, args.seeds)
            print(f"{prevalence:>9.1%}  {bins:>6,}  {auc_error:>13.1e}  {ap_error:>12.1e}  {ap:>6.3f}")


if __name__ == "__main__":
    main()
