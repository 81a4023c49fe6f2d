"""The st.Page objects of this run, by key, so any page can link to another."""

from __future__ import annotations

from typing import Any

_PAGES: dict[str, Any] = {}


def register(key: str, page: Any) -> None:
    _PAGES[key] = page


def page(key: str) -> Any:
    """The page to pass to st.page_link / st.switch_page."""
    return _PAGES.get(key, f"pages/{key}.py")
