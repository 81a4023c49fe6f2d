"""Sources of ScoreCounts beyond an upload: one function per engine that returns ScoreCounts.

- :mod:`metricbridge.sources.grouped`: the contract every engine counts to (:func:`counts_from_groups`, the
  aggregates of one GROUP BY, the bin-edge rule and the mode rule), numpy only.
- :mod:`metricbridge.sources.local`: files larger than memory (a Parquet file, a folder of Parquet parts, a glob,
  a CSV file, a table of a DuckDB database), read as a DuckDB view and counted by GROUP BY in DuckDB.
- :mod:`metricbridge.sources.spark`: a Spark DataFrame, counted by ``groupBy`` (the ``spark`` extra).

The names below are imported on first use, so importing this package loads neither DuckDB nor Spark.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metricbridge.sources.grouped import (
        choose_counting,
        counts_from_groups,
        edges_from_samples,
        group_aggregates,
        groups_of,
    )
    from metricbridge.sources.local import SourcePredictions, count_source, evaluate_source, open_source

_WHERE = {
    "choose_counting": "metricbridge.sources.grouped", "counts_from_groups": "metricbridge.sources.grouped",
    "edges_from_samples": "metricbridge.sources.grouped", "group_aggregates": "metricbridge.sources.grouped",
    "groups_of": "metricbridge.sources.grouped",
    "SourcePredictions": "metricbridge.sources.local", "count_source": "metricbridge.sources.local",
    "evaluate_source": "metricbridge.sources.local", "open_source": "metricbridge.sources.local",
}

__all__ = ["SourcePredictions", "choose_counting", "count_source", "counts_from_groups", "edges_from_samples",
           "evaluate_source", "group_aggregates", "groups_of", "open_source"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'metricbridge.sources' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
