"""The dispatch job under APScheduler: a tick that drains a backlog outlasts the interval."""

from __future__ import annotations

import asyncio
import logging

import pytest

from scheduler.runner import build_scheduler


async def test_a_long_tick_does_not_fill_the_log_with_skipped_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    busy = asyncio.Lock()
    runs: list[str] = []

    async def tick() -> int:
        # As Dispatcher.tick: a run that finds the previous one draining returns at once.
        if busy.locked():
            runs.append("returned at once")
            return 0
        async with busy:
            runs.append("drained")
            await asyncio.sleep(0.45)
        return 1

    async def nothing() -> None:
        return None

    scheduler = build_scheduler(dispatch=tick, weekly_digest=nothing, dispatch_interval_seconds=0.1)
    with caplog.at_level(logging.WARNING, logger="apscheduler"):
        scheduler.start()
        await asyncio.sleep(0.7)
        scheduler.shutdown(wait=False)
        async with busy:  # the tick under way finishes
            pass
    assert runs[0] == "drained" and "returned at once" in runs
    skipped = [r for r in caplog.records if "maximum number of running instances" in r.getMessage()]
    assert skipped == []
