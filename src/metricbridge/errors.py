"""The exception tree of metricbridge.

::

    MetricBridgeError            base: pages and the CLI catch this and show its message
    ├── InputError(ValueError)   a bad file, column or value; names the file, column, row and value
    ├── ScenarioError            a bad scenario file; names the field (and the line)
    ├── CriteriaError            a bad criteria file; names the entry
    └── StoreError               the database cannot be read or written

Anything else escaping the core is a bug and must surface in tests; the CLI (exit code 3) and the app show
it as one line (:func:`internal_error_line`), never as a traceback, unless asked for (``--debug``,
``METRICBRIDGE_DEBUG=1``).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import traceback
from pathlib import Path

__all__ = ["MetricBridgeError", "InputError", "ScenarioError", "CriteriaError", "StoreError",
           "internal_error_line", "debugging"]


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


def debugging() -> bool:
    """Whether tracebacks of internal errors are shown (``METRICBRIDGE_DEBUG`` set to anything but 0)."""
    return os.environ.get("METRICBRIDGE_DEBUG", "0") not in ("", "0")


def internal_error_line(error: BaseException, *, debug: bool = False) -> str:
    """One line for a bug: what failed, where its traceback was written, how to report it. With ``debug``
    the traceback itself comes first."""
    from metricbridge import __version__

    text = "".join(traceback.format_exception(error))
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    where = Path(tempfile.gettempdir()) / f"metricbridge-error-{stamp}.txt"
    try:
        where.write_text(f"metricbridge {__version__}\n{text}", encoding="utf-8")
        kept = f"the details are in {where}"
    except OSError:
        kept = "run again with --debug (or METRICBRIDGE_DEBUG=1) for the details"
    first = str(error).splitlines()[0] if str(error) else ""
    line = (f"metricbridge: internal error ({type(error).__name__}: {first}); {kept}. This is a bug, not your "
            f"input: please report it to the maintainers with that file (metricbridge {__version__}).")
    return (text + line) if debug else line
