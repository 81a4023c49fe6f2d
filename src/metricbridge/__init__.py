"""metricbridge: link a model's evaluation metrics to the outcomes people care about."""

from metricbridge.counts import ScoreCounts
from metricbridge.curve import ThresholdCurve, curve_from_counts
from metricbridge.errors import CriteriaError, InputError, MetricBridgeError, ScenarioError, StoreError
from metricbridge.evaluate import EvaluationReport, evaluate_file
from metricbridge.loading import counts_from_arrays, load_predictions
from metricbridge.metrics import Evaluation, evaluate_counts

__all__ = [
    "ScoreCounts", "ThresholdCurve", "curve_from_counts", "counts_from_arrays", "Evaluation", "EvaluationReport",
    "evaluate_file", "load_predictions",
    "evaluate_counts", "MetricBridgeError", "InputError", "ScenarioError", "CriteriaError", "StoreError",
]
__version__ = "0.1.0"
