"""The loading layer: files and arrays in, validated predictions and ScoreCounts out."""

from metricbridge.loading.builders import DEFAULT_BINS, counts_from_arrays, counts_from_table
from metricbridge.loading.columns import ColumnChoice, choose_columns
from metricbridge.loading.predictions import Predictions, load_predictions
from metricbridge.loading.reading import Table, read_table

__all__ = [
    "DEFAULT_BINS", "ColumnChoice", "Predictions", "Table", "choose_columns", "counts_from_arrays",
    "counts_from_table", "load_predictions", "read_table",
]
