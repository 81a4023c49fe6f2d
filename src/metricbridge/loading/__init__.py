"""The loading layer: files and arrays in, validated predictions and ScoreCounts out."""

from metricbridge.loading.builders import DEFAULT_BINS, BinLookup, Progress, counts_from_arrays, counts_from_table
from metricbridge.loading.columns import ColumnChoice, FileOverview, choose_columns, overview
from metricbridge.loading.predictions import Predictions, load_predictions
from metricbridge.loading.reading import Table, read_table


def inspect_file(path: str, *, name: str | None = None) -> FileOverview:
    """Read a file and guess its columns without evaluating anything (what the Data page shows first)."""
    return overview(read_table(path, name=name))

__all__ = [
    "DEFAULT_BINS", "BinLookup", "ColumnChoice", "FileOverview", "Predictions", "Progress", "Table", "choose_columns",
    "counts_from_arrays", "counts_from_table", "inspect_file", "load_predictions", "overview", "read_table",
]
