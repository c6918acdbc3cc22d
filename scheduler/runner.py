"""The APScheduler wiring: a dispatch tick, the weekly digest and the nightly retention
job, in Europe/Helsinki."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)
HELSINKI = ZoneInfo("Europe/Helsinki")

Job = Callable[[], Awaitable[object]]
# Hears each job run: (job id, "ok" or "error", seconds it took).
JobObserver = Callable[[str, str, float], None]


def observed(name: str, job: Job, on_job: JobObserver | None) -> Job:
    """The job, reporting every run to `on_job`; a failure still reaches APScheduler,
    which logs it."""
    if on_job is None:
        return job

    @functools.wraps(job)  # APScheduler's log lines name the job by its function
    async def run() -> object:
        started = time.perf_counter()
        try:
            outcome = await job()
        except Exception:
            on_job(name, "error", time.perf_counter() - started)
            raise
        on_job(name, "ok", time.perf_counter() - started)
        return outcome

    return run


def build_scheduler(
    *,
    dispatch: Job,
    weekly_digest: Job,
    dispatch_interval_seconds: float,
    retention: Callable[[], Awaitable[object]] | None = None,
    on_job: JobObserver | None = None,
    senders: Job | None = None,
    senders_interval_seconds: float = 2.0,
) -> AsyncIOScheduler:
    """Jobs are not persisted: the outbox is the durable part, and the digest's
    idempotency key (one per team, coordinator and ISO week) makes a re-run harmless."""
    scheduler = AsyncIOScheduler(timezone=HELSINKI)
    scheduler.add_job(
        observed("dispatch", dispatch, on_job),
        IntervalTrigger(seconds=dispatch_interval_seconds, timezone=HELSINKI),
        id="dispatch",
        # A tick draining a backlog outlasts the interval. The next run then returns at
        # once (the dispatcher's own lock) rather than being skipped by APScheduler with a
        # warning every interval, which told operators of a problem that was not one.
        max_instances=2,
        coalesce=True,
        # First tick at once: whatever fell due while the bot was down goes out at start.
        next_run_time=datetime.now(HELSINKI),
    )
    scheduler.add_job(
        observed("weekly-digest", weekly_digest, on_job),
        CronTrigger(day_of_week="mon", hour=8, minute=0, timezone=HELSINKI),
        id="weekly-digest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=6 * 3600,
    )
    if senders is not None:
        # Every instance: each keeps its own memory of who wrote to it lately.
        scheduler.add_job(
            observed("senders", senders, on_job),
            IntervalTrigger(seconds=senders_interval_seconds, timezone=HELSINKI),
            id="senders",
            max_instances=1,
            coalesce=True,
        )
    if retention is not None:

        async def nightly() -> object:
            # What it did, in numbers only (the report holds no ids, let alone texts).
            done = await retention()
            log.info("retention job done: %s", done)
            return done

        # At night, when nobody is working: on SQLite the job holds the one writer's lock
        # for a moment per batch. Every instance schedules it; the job's own lock lets one
        # of them do the work (consultations.retention).
        scheduler.add_job(
            observed("retention", nightly, on_job),
            CronTrigger(hour=2, minute=30, timezone=HELSINKI),
            id="retention",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=12 * 3600,
        )
    return scheduler
