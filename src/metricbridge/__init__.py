"""metricbridge: link a model's evaluation metrics to the outcomes people care about.

The names below are imported on first use, so ``import metricbridge.counts`` (or the command line on a
file) loads only what it needs: no DuckDB, scikit-learn, pyarrow or PyYAML unless a stage asks for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metricbridge.counts import ScoreCounts
    from metricbridge.curve import ThresholdCurve, curve_from_counts
    from metricbridge.errors import CriteriaError, InputError, MetricBridgeError, ScenarioError, StoreError
    from metricbridge.evaluate import EvaluationReport, evaluate_file
    from metricbridge.loading import counts_from_arrays, load_predictions
    from metricbridge.metrics import Evaluation, evaluate_counts

_WHERE = {
    "ScoreCounts": "metricbridge.counts", "ThresholdCurve": "metricbridge.curve",
    "curve_from_counts": "metricbridge.curve", "counts_from_arrays": "metricbridge.loading",
    "load_predictions": "metricbridge.loading", "Evaluation": "metricbridge.metrics",
    "evaluate_counts": "metricbridge.metrics", "EvaluationReport": "metricbridge.evaluate",
    "evaluate_file": "metricbridge.evaluate", "MetricBridgeError": "metricbridge.errors",
    "InputError": "metricbridge.errors", "ScenarioError": "metricbridge.errors",
    "CriteriaError": "metricbridge.errors", "StoreError": "metricbridge.errors",
}

__all__ = [
    "ScoreCounts", "ThresholdCurve", "curve_from_counts", "counts_from_arrays", "Evaluation", "EvaluationReport",
    "evaluate_file", "load_predictions",
    "evaluate_counts", "MetricBridgeError", "InputError", "ScenarioError", "CriteriaError", "StoreError",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'metricbridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
