"""Work the app starts as soon as its inputs are known and collects when a page needs it: the bootstrap.

A page that shows no verdicts never waits for them; a page that does draws everything else first, then
waits here with a progress bar (:func:`wait`). Jobs run one at a time on one worker thread, are pure
computations (no Streamlit calls), and are kept by key across reruns and sessions, like st.cache_resource.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

__all__ = ["Job", "submit", "wait"]

# finished jobs kept per pool (a count, a bootstrap: a few MB); "prefetch": the passes a page opens with
_KEEP = {"count": 8, "bootstrap": 32, "prefetch": 4, "warm": 1}
_POLL = 0.03  # seconds between progress updates while a page waits


@dataclass(eq=False)
class Job:
    """One computation: its future, and how far it got (written by the worker, read by the page)."""

    future: Future[Any] = field(default_factory=Future)
    fraction: float = 0.0
    what: str = "waiting to start"

    def report(self, fraction: float, what: str) -> None:
        self.fraction, self.what = fraction, what

    @property
    def done(self) -> bool:
        return self.future.done()

    def result(self) -> Any:
        return self.future.result()


# One worker per pool: counting a new file does not queue behind a bootstrap, and neither runs twice at once.
_executors = {pool: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"metricbridge-{pool}") for pool in _KEEP}
_jobs: dict[str, OrderedDict[Hashable, Job]] = {pool: OrderedDict() for pool in _KEEP}
_lock = threading.Lock()


def submit(key: Hashable, work: Callable[[Callable[[float, str], None]], Any], *, pool: str = "bootstrap") -> Job:
    """The job for ``key``: the running or finished one, else ``work(report)`` started in the background
    (``report(fraction, what)`` tells the page how far it got). A job that failed is started again."""
    jobs = _jobs[pool]
    with _lock:
        job = jobs.get(key)
        if job is not None and not (job.done and job.future.exception() is not None):
            jobs.move_to_end(key)
            return job
        job = Job()
        jobs[key] = job
        while len(jobs) > _KEEP[pool]:
            jobs.popitem(last=False)

    def run() -> None:
        try:
            job.future.set_result(work(job.report))
        except BaseException as error:  # handed to the page that waits, which shows it
            job.future.set_exception(error)

    _executors[pool].submit(run)
    return job


def while_busy(*pools: str) -> None:
    """Wait while any job of ``pools`` is unfinished: low-priority work (warming up) yields to them."""
    while True:
        with _lock:
            busy = any(not job.done for pool in pools for job in _jobs[pool].values())
        if not busy:
            return
        time.sleep(_POLL)


def wait(jobs: Sequence[Job], *, what: str) -> list[Any]:
    """The jobs' results; while any is running, a progress bar saying what is being done."""
    if all(job.done for job in jobs):
        return [job.result() for job in jobs]
    slot = st.empty()
    while not all(job.done for job in jobs):
        fraction = sum(1.0 if job.done else job.fraction for job in jobs) / len(jobs)
        running = next((job.what for job in jobs if not job.done), "")
        slot.progress(min(max(fraction, 0.0), 1.0), text=f"{what}: {running}…")
        time.sleep(_POLL)
    slot.empty()
    return [job.result() for job in jobs]
