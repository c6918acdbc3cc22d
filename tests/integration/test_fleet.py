"""Two instances on one PostgreSQL are one bot: Teams' per-tenant budget holds for the
fleet, and a killed instance's claimed rows are sent again within seconds, not minutes.

Real dispatcher processes (tests/support/dispatch_worker.py, the project's own classes)
against the loopback Bot Connector, which enforces Teams' limits with 429s.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.test_crash_recovery import kill, seed, start_worker, statuses
from tests.integration.test_crash_recovery import sessions as sessions  # the fixture
from tests.support.connector import Limits, LoopbackConnector, Sent

pytestmark = pytest.mark.postgres

TENANT_LIMIT = 50  # Teams: about 50 requests per second per app and tenant
LEADER_SECONDS = 15.0  # the production default (storage.leases)


def peak_per_second(sent: list[Sent]) -> int:
    """The most sends in any one-second window (sliding, as Teams counts)."""
    times = sorted(s.at for s in sent)
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


async def until_all_sent(
    sessions: async_sessionmaker[AsyncSession], rows: int, timeout: float
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        current = await statuses(sessions)
        if Counter(current.values()) == {"sent": rows}:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all sent after {timeout}s: {Counter(current.values())}")


async def test_two_instances_keep_teams_tenant_budget_together_and_lose_or_double_nothing(
    pg_url: str,
    sessions: async_sessionmaker[AsyncSession],
    connector: tuple[LoopbackConnector, str],
) -> None:
    fake, url = connector
    fake.limits = Limits(per_tenant_per_second=TENANT_LIMIT)
    rows = await seed(
        sessions, url, users=200, per_user=2, first_due=datetime.now(UTC) - timedelta(minutes=1)
    )
    workers = [
        await start_worker(pg_url, url, 300, "--name", name)
        for name in ("instance-a", "instance-b")
    ]
    try:
        await until_all_sent(sessions, len(rows), timeout=60)
        assert all(w.returncode is None for w in workers), "both instances ran throughout"
    finally:
        for worker in workers:
            await kill(worker)
    received = Counter(rows[(s.conversation_id, s.activity["text"])] for s in fake.sent)
    peak = peak_per_second(fake.sent)
    print(f"\nfleet: {len(fake.sent)} sends, peak {peak}/s, {fake.throttled} 429s")
    assert set(received) == set(rows.values()), "a message was lost"
    assert max(received.values()) == 1, "a message went out twice"
    assert peak <= TENANT_LIMIT
    # Each instance on its own budget sent twice the limit, and hundreds of 429s came
    # back. One sender leaves only the odd 429 that timing jitter on a loaded machine
    # causes (retried after Retry-After like any other).
    assert fake.throttled <= len(rows) // 20


async def test_a_killed_leader_s_rows_go_out_within_30_seconds_of_the_restart(
    pg_url: str,
    sessions: async_sessionmaker[AsyncSession],
    connector: tuple[LoopbackConnector, str],
) -> None:
    fake, url = connector
    fake.limits = Limits()
    fake.latency = 0.02  # some requests are in flight at the kill
    rows = await seed(
        sessions, url, users=100, per_user=3, first_due=datetime.now(UTC) - timedelta(minutes=5)
    )
    started = asyncio.Event()
    fake.on_send = lambda sent: started.set() if len(fake.sent) >= 60 else None
    leader = await start_worker(pg_url, url, 300, "--name", "leader")
    try:
        await asyncio.wait_for(started.wait(), timeout=30)
    finally:
        await kill(leader)
    at_kill = await statuses(sessions)
    sending_at_kill = {k for k, s in at_kill.items() if s == "sending"}
    sent_at_kill = {k for k, s in at_kill.items() if s == "sent"}
    assert sending_at_kill, "the kill came with rows in flight"

    # The instance comes back under a new name (a new process), as after a restart.
    restarted = await start_worker(pg_url, url, 300, "--name", "leader-restarted")
    try:
        took = await until_all_sent(sessions, len(rows), timeout=45)
    finally:
        await kill(restarted)
    received = Counter(rows[(s.conversation_id, s.activity["text"])] for s in fake.sent)
    duplicates = sum(received.values()) - len(rows)
    print(
        f"\nkill -9: {len(sent_at_kill)} sent and {len(sending_at_kill)} in flight at the kill;"
        f" all sent {took:.1f}s after the restart; {duplicates} duplicate(s)"
    )
    assert took <= 30
    assert set(received) == set(rows.values()), "a message was lost"
    doubled = {key for key, n in received.items() if n > 1}
    assert doubled <= sending_at_kill and not doubled & sent_at_kill
