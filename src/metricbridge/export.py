"""Exports that are safe to open: CSV whose text cells cannot start a spreadsheet formula."""

from __future__ import annotations

import pandas as pd

__all__ = ["safe_csv"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value  # a leading apostrophe makes Excel, LibreOffice and Sheets show text, not run it
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``frame``; text cells and column names that could start a formula are prefixed."""
    safe = frame.copy()
    safe.columns = [_defuse(str(column)) for column in safe.columns]
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_defuse)
    return safe.to_csv(index=False).encode("utf-8")
