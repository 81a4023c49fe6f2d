"""The loading layer: files and arrays in, validated predictions and ScoreCounts out."""

from metricbridge.loading.builders import counts_from_arrays, counts_from_table

__all__ = ["counts_from_arrays", "counts_from_table"]
