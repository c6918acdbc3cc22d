"""The outbox's consumer side on real databases: claims, leases, and two dispatchers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from consultations.delivery import RetryPolicy
from consultations.model import ClaimedMessage
from scheduler.dispatcher import Dispatcher
from storage.db import create_engine, session_factory
from storage.delivery_queue import SqlAlchemyDeliveryQueue
from storage.migrate import upgrade
from storage.tables import outbox

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def row(
    key: str, due_at: datetime, recipient: str = "1", status: str = "pending"
) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "kind": "text",
        "subject": "",
        "recipient_type": "user",
        "recipient_id": recipient,
        "payload": {"message_id": "help.title"},
        "due_at": due_at,
        "status": status,
        "attempts": 0,
        "created_at": NOW - timedelta(hours=1),
    }


async def seed(sessions: async_sessionmaker[AsyncSession], rows: Sequence[dict[str, Any]]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(insert(outbox), list(rows))


async def outbox_rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, dict[str, Any]]:
    async with sessions() as session:
        rows = (await session.execute(select(outbox))).mappings()
        return {r["idempotency_key"]: dict(r) for r in rows}


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


def keys(claimed: list[ClaimedMessage]) -> list[str]:
    return [m.idempotency_key for m in claimed]


async def test_only_rows_whose_time_has_come_are_claimed_oldest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(
        sessions,
        [
            row("later", NOW + timedelta(seconds=1)),
            row("now", NOW),
            row("an-hour-ago", NOW - timedelta(hours=1)),
            row("a-minute-ago", NOW - timedelta(minutes=1)),
        ],
    )
    queue = SqlAlchemyDeliveryQueue(sessions)

    first = await queue.claim_due(NOW, limit=2, lease_seconds=60)
    second = await queue.claim_due(NOW, limit=10, lease_seconds=60)

    assert keys(first) == ["an-hour-ago", "a-minute-ago"]
    assert keys(second) == ["now"]
    assert all(m.attempts == 1 for m in first + second)
    assert first[0].payload == {"message_id": "help.title"}
    stored = await outbox_rows(sessions)
    assert stored["later"]["status"] == "pending"
    assert {stored[k]["status"] for k in ("an-hour-ago", "a-minute-ago", "now")} == {"sending"}
    assert stored["now"]["claimed_until"] == NOW + timedelta(seconds=60)


async def test_cancelled_sent_and_dead_rows_are_never_claimed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    past = NOW - timedelta(hours=1)
    await seed(
        sessions,
        [
            row("cancelled", past, status="cancelled"),
            row("sent", past, status="sent"),
            row("dead", past, status="dead"),
            row("pending", past),
        ],
    )
    queue = SqlAlchemyDeliveryQueue(sessions)
    later = NOW + timedelta(days=30)
    assert keys(await queue.claim_due(later, 10, 60)) == ["pending"]
    assert await queue.claim_due(later + timedelta(seconds=30), 10, 60) == []
    stored = await outbox_rows(sessions)
    assert {k: r["status"] for k, r in stored.items()} == {
        "cancelled": "cancelled",
        "sent": "sent",
        "dead": "dead",
        "pending": "sending",
    }


async def test_a_row_stuck_in_sending_is_reclaimed_once_its_lease_runs_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(sessions, [row("m", NOW)])
    queue = SqlAlchemyDeliveryQueue(sessions)

    assert keys(await queue.claim_due(NOW, 10, lease_seconds=30)) == ["m"]
    # The dispatcher that took it died; until its lease ends nobody else sends it.
    assert await queue.claim_due(NOW + timedelta(seconds=29), 10, lease_seconds=30) == []
    again = await queue.claim_due(NOW + timedelta(seconds=31), 10, lease_seconds=30)

    assert keys(again) == ["m"]
    assert again[0].attempts == 2
    assert (await outbox_rows(sessions))["m"]["attempts"] == 2


async def test_settled_rows_are_not_claimed_again_and_retries_wait_for_their_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(sessions, [row("sent", NOW), row("retry", NOW), row("dead", NOW)])
    queue = SqlAlchemyDeliveryQueue(sessions)
    claimed = {m.idempotency_key: m for m in await queue.claim_due(NOW, 10, 30)}

    await queue.mark_sent(claimed["sent"].id, NOW, "act-1", "a:conv")
    await queue.mark_retry(claimed["retry"].id, NOW + timedelta(minutes=5), "HTTP 503")
    await queue.mark_dead(claimed["dead"].id, NOW, "HTTP 400")

    assert await queue.claim_due(NOW + timedelta(minutes=4), 10, 30) == []
    later = await queue.claim_due(NOW + timedelta(minutes=5), 10, 30)
    assert keys(later) == ["retry"] and later[0].attempts == 2
    stored = await outbox_rows(sessions)
    assert stored["sent"]["status"] == "sent"
    assert stored["sent"]["sent_activity_id"] == "act-1"
    assert stored["sent"]["conversation_id"] == "a:conv"
    assert stored["sent"]["claimed_until"] is None
    assert (stored["dead"]["status"], stored["dead"]["last_error"]) == ("dead", "HTTP 400")
    assert stored["retry"]["last_error"] == "HTTP 503"


class RecordingSender:
    """A Sender that only remembers what it was asked to send, yielding between sends."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.in_flight: set[str] = set()
        self.overlaps = 0
        self.prepared: list[int] = []

    async def prepare(self, messages: Sequence[ClaimedMessage]) -> None:
        self.prepared.append(len(messages))

    async def send(self, message: ClaimedMessage) -> tuple[str | None, str | None]:
        if message.recipient_id in self.in_flight:
            self.overlaps += 1
        self.in_flight.add(message.recipient_id)
        await asyncio.sleep(0)
        self.keys.append(message.idempotency_key)
        await asyncio.sleep(0)
        self.in_flight.discard(message.recipient_id)
        return f"act-{message.id}", f"a:conv-{message.recipient_id}"


@pytest.mark.postgres
async def test_two_dispatchers_on_one_database_send_every_message_exactly_once(
    pg_url: str,
) -> None:
    engines: list[AsyncEngine] = [create_engine(pg_url), create_engine(pg_url)]
    try:
        await upgrade(engines[0])
        seeded = [
            row(f"m{i:04d}", NOW - timedelta(seconds=1000 - i), recipient=str(i % 200))
            for i in range(1000)
        ]
        await seed(session_factory(engines[0]), seeded)
        clock = FrozenClock(NOW)
        senders = [RecordingSender(), RecordingSender()]

        async def never_unreachable(user_id: int) -> None:
            raise AssertionError(f"user {user_id} reported unreachable")

        dispatchers = [
            Dispatcher(
                queue=SqlAlchemyDeliveryQueue(session_factory(engine)),
                sender=sender,
                clock=clock,
                policy=RetryPolicy(),
                on_unreachable=never_unreachable,
                batch_size=50,
                concurrency=8,
            )
            for engine, sender in zip(engines, senders, strict=True)
        ]

        settled = await asyncio.gather(*(d.tick(max_batches=100) for d in dispatchers))

        sent = Counter(senders[0].keys + senders[1].keys)
        assert sum(settled) == 1000
        assert set(sent) == {r["idempotency_key"] for r in seeded}
        assert [k for k, n in sent.items() if n > 1] == []
        assert all(s.keys for s in senders), "both dispatchers should have taken a share"
        assert senders[0].overlaps == senders[1].overlaps == 0
        stored = await outbox_rows(session_factory(engines[1]))
        assert Counter(r["status"] for r in stored.values()) == {"sent": 1000}
        assert {r["attempts"] for r in stored.values()} == {1}
    finally:
        for engine in engines:
            await engine.dispose()
