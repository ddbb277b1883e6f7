"""Fixtures and checks for the live consult's tests.

Every test here must leave no asyncio task pending on a loop it drops: after each test's
teardown (module fixtures included) the collector runs, and a task it destroys while still
pending ("Task was destroyed but it is pending!", logged by asyncio) fails that test. Such
tasks used to be found at some later, unrelated collection, where the finalizers formatting
their tracebacks broke other tests (see tests/conftest.py, _apptest_compiles_pages_like_the_server).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Generator

import pytest

PENDING_TASK_DESTROYED = "Task was destroyed but it is pending!"


class _DestroyedPendingTasks(logging.Handler):
    """Keeps asyncio's reports of pending tasks destroyed by the collector."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(PENDING_TASK_DESTROYED):
            self.reports.append(message)


_REPORTS = pytest.StashKey[_DestroyedPendingTasks]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    gc.collect()  # what earlier tests (of other areas too) dropped is not this test's
    reports = item.stash[_REPORTS] = _DestroyedPendingTasks()
    logging.getLogger("asyncio").addHandler(reports)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    reports = item.stash.get(_REPORTS, None)
    try:
        result = yield
        gc.collect()
    finally:
        if reports is not None:
            logging.getLogger("asyncio").removeHandler(reports)
    if reports is not None and reports.reports:
        raise AssertionError(
            f"{len(reports.reports)} asyncio task(s) left pending on a dropped event loop "
            "(cancel them and run the loop until they end before closing it, as asyncio.run does):\n"
            + "\n".join(reports.reports)
        )
    return result
