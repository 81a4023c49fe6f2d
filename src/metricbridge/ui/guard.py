"""What the app does with an error a page did not expect: one line on the page, the session kept.

A ``MetricBridgeError`` is the user's (a bad file, scenario or criteria): its message. Anything else is a bug:
the same one line as the command line's exit code 3 (what failed, where the traceback was written, how to
report it); the traceback only with ``METRICBRIDGE_DEBUG=1``. The session state is untouched, so what was
loaded and chosen stays.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import streamlit as st

from metricbridge.errors import MetricBridgeError, debugging, internal_error_line

__all__ = ["guarded", "fragment"]

Function = TypeVar("Function", bound=Callable[..., Any])


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Show an error escaping the block as one line instead of a traceback (Streamlit's reruns and stops
    are BaseExceptions and pass)."""
    try:
        yield
    except MetricBridgeError as error:
        st.error(str(error))
    except Exception as error:
        st.error(internal_error_line(error, debug=debugging()))


def fragment(function: Function) -> Function:
    """``st.fragment`` of ``function``, guarded like a page (a fragment's own rerun runs only its body)."""
    @functools.wraps(function)
    def body(*args: Any, **kwargs: Any) -> Any:
        with guarded():
            return function(*args, **kwargs)
        return None

    return st.fragment(body)  # type: ignore[return-value]
