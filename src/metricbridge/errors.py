"""The exception tree of metricbridge.

::

    MetricBridgeError            base: pages and the CLI catch this and show its message
    ├── InputError(ValueError)   a bad file, column or value; names the file, column, row and value
    ├── ScenarioError            a bad scenario file; names the field (and the line)
    ├── CriteriaError            a bad criteria file; names the entry
    └── StoreError               the database cannot be read or written

Anything else escaping the core is a bug and must surface in tests.
"""

from __future__ import annotations

__all__ = ["MetricBridgeError", "InputError", "ScenarioError", "CriteriaError", "StoreError"]


class MetricBridgeError(Exception):
    """Base of every error metricbridge reports to a user."""


class InputError(MetricBridgeError, ValueError):
    """A file, column or value cannot be used; the message says where and how to fix it."""


class ScenarioError(MetricBridgeError, ValueError):
    """A scenario file is invalid; the message names the field."""


class CriteriaError(MetricBridgeError, ValueError):
    """A criteria file is invalid; the message names the entry."""


class StoreError(MetricBridgeError):
    """The project database cannot be read or written."""
