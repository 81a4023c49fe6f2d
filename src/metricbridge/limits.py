"""What metricbridge agrees to read, in one place. Inputs under these limits always work; above one, the
message names the limit and says how to get past it (split the file, shorten the cell, ask for fewer bins).

The limits keep every input's cost bounded (a YAML alias bomb, a 100 MB cell, a billion bootstrap
resamples) and every figure finite (weights and amounts that would overflow a float64 in a product of
totals). They are generous for real predictions files and business scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_RESAMPLES", "LIMITS", "Limits", "beyond"]

# The default number of bootstrap resamples (--bootstrap), kept here beside its limit so that the command
# line reads it without importing numpy.
DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True, slots=True)
class Limits:
    # files of predictions
    line_bytes: int = 16 * 1024 * 1024  # one CSV line (a quoted cell of tens of MB is no prediction)
    cell_bytes: int = 1024 * 1024  # one text cell of a CSV or Parquet file
    columns: int = 4096  # columns of one file
    weight: float = 1e12  # a row's weight (how many items it stands for)
    amount: float = 1e15  # a value column's magnitude (an amount of money, per row)
    # YAML files (scenarios, criteria)
    yaml_bytes: int = 1024 * 1024
    yaml_aliases: int = 100  # uses of anchors (*name), counting those inside what an alias repeats
    yaml_nodes: int = 20_000  # keys, values and items, counting what aliases repeat (a preset has 50)
    yaml_depth: int = 32  # nesting of mappings and lists
    # scenario numbers
    volume: float = 1e12  # items per period
    money: float = 1e12  # a worth per item or a cost per hour, in the scenario's currency
    times: float = 1e6  # the multiple of a value column an outcome is worth
    minutes: float = 1e6  # minutes per action
    # the command line
    bins: int = 1_000_000  # --bins
    resamples: int = 100_000  # --bootstrap
    seed: int = 2**63 - 1  # --seed (at least 0)


LIMITS = Limits()


def beyond(what: str, value: object, limit: object, fix: str) -> str:
    """'the weight in row 7 is 1e+308, above the limit of 1e+12 (limits.weight): <fix>'."""
    return f"{what} is {value}, above the limit of {limit}: {fix}"
