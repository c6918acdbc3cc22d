"""The APScheduler wiring: a dispatch tick, the weekly digest and the nightly retention
job, in Europe/Helsinki."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)
HELSINKI = ZoneInfo("Europe/Helsinki")


def build_scheduler(
    *,
    dispatch: Callable[[], Awaitable[object]],
    weekly_digest: Callable[[], Awaitable[object]],
    dispatch_interval_seconds: float,
    retention: Callable[[], Awaitable[object]] | None = None,
) -> AsyncIOScheduler:
    """Jobs are not persisted: the outbox is the durable part, and the digest's
    idempotency key (one per team, coordinator and ISO week) makes a re-run harmless."""
    scheduler = AsyncIOScheduler(timezone=HELSINKI)
    scheduler.add_job(
        dispatch,
        IntervalTrigger(seconds=dispatch_interval_seconds, timezone=HELSINKI),
        id="dispatch",
        max_instances=1,
        coalesce=True,
        # First tick at once: whatever fell due while the bot was down goes out at start.
        next_run_time=datetime.now(HELSINKI),
    )
    scheduler.add_job(
        weekly_digest,
        CronTrigger(day_of_week="mon", hour=8, minute=0, timezone=HELSINKI),
        id="weekly-digest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=6 * 3600,
    )
    if retention is not None:

        async def nightly() -> None:
            # What it did, in numbers only (the report holds no ids, let alone texts).
            log.info("retention job done: %s", await retention())

        # At night, when nobody is working: on SQLite the job holds the one writer's lock
        # for a moment per batch. Every instance schedules it; the job's own lock lets one
        # of them do the work (consultations.retention).
        scheduler.add_job(
            nightly,
            CronTrigger(hour=2, minute=30, timezone=HELSINKI),
            id="retention",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=12 * 3600,
        )
    return scheduler
