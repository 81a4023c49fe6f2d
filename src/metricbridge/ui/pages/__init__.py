"""Page bodies. Each ``render()`` reads widgets, calls the core (cached) and draws; no arithmetic here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from metricbridge.ui.pages import (
    criteria,
    data,
    home,
    metrics,
    monitoring,
    outcomes,
    portfolio,
    progress,
    projects,
    segments,
    stakeholder,
    status_quo,
)


@dataclass(frozen=True, slots=True)
class PageSpec:
    key: str
    title: str
    icon: str
    render: Callable[[], None]
    default: bool = False


PAGES = (
    PageSpec("home", "Home", ":material/home:", home.render, default=True),
    PageSpec("stakeholder", "For stakeholders", ":material/groups:", stakeholder.render),
    PageSpec("data", "Data", ":material/upload_file:", data.render),
    PageSpec("metrics", "Metrics and threshold", ":material/tune:", metrics.render),
    PageSpec("outcomes", "Outcomes", ":material/payments:", outcomes.render),
    PageSpec("status_quo", "Against today", ":material/compare_arrows:", status_quo.render),
    PageSpec("criteria", "Success criteria", ":material/verified:", criteria.render),
    PageSpec("segments", "Segments", ":material/splitscreen:", segments.render),
    PageSpec("monitoring", "Monitoring", ":material/monitor_heart:", monitoring.render),
    PageSpec("projects", "Projects and runs", ":material/folder_open:", projects.render),
    PageSpec("progress", "Progress", ":material/trending_up:", progress.render),
    PageSpec("portfolio", "Portfolio", ":material/dashboard:", portfolio.render),
)
