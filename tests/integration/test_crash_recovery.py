"""A delivery worker killed mid-send, and a worker started after downtime (PostgreSQL).

The worker is a real process (tests/support/dispatch_worker.py) built from the project's
own classes; it is killed with SIGKILL, so nothing in it gets a chance to clean up.

The guarantee measured here: a row confirmed 'sent' is never sent again, and nothing is
lost. A row whose request was in flight when the process died may go out twice, because
the Bot Connector has no idempotent send; such doubles are bounded by the rows the dead
worker held in 'sending', and by the dispatcher's concurrency.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import texts_for
from consultations import services
from consultations.model import OutgoingMessage, RecipientType, UserRef
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.tables import outbox
from storage.uow import SqlAlchemyUnitOfWork
from tests.support.connector import Limits, LoopbackConnector, Sent

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
TENANT = "11111111-2222-3333-4444-555555555555"
# Five catalog texts, one per row of a user: (conversation, text) names the row exactly.
MESSAGE_IDS = (
    "profession.nurse",
    "profession.physician",
    "profession.psychologist",
    "profession.physiotherapist",
    "profession.social_worker",
)
DISPATCHER_CONCURRENCY = 16  # scheduler.dispatcher.Dispatcher's default


@pytest.fixture
async def sessions(pg_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(pg_url)
    try:
        await upgrade(engine)
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    service_url: str,
    users: int,
    per_user: int,
    first_due: datetime,
) -> dict[tuple[str, str], str]:
    """Users with a 1:1 chat, and `per_user` text messages to each, all due.

    Returns (conversation id, rendered text) -> idempotency key.
    """
    now = datetime.now(UTC)
    t = texts_for("fi-FI")
    rows: dict[tuple[str, str], str] = {}
    for n in range(users):
        user = await services.record_user(
            SqlAlchemyUnitOfWork(sessions),
            UserRef(
                teams_user_id=f"29:user-{n}",
                aad_object_id=None,
                name=f"User {n}",
                locale="fi-FI",
                tenant_id=TENANT,
                service_url=service_url,
                bot_id="28:bot",
            ),
            now,
            personal_conversation_id=f"a:personal-{n}",
        )
        async with SqlAlchemyUnitOfWork(sessions) as uow:
            for j in range(per_user):
                key = f"crash:{n}:{j}"
                await uow.outbox.add(
                    OutgoingMessage(
                        idempotency_key=key,
                        kind="text",
                        recipient_type=RecipientType.USER,
                        recipient_id=str(user.id),
                        due_at=first_due + timedelta(milliseconds=10 * (j * users + n)),
                        payload={"message_id": MESSAGE_IDS[j]},
                    ),
                    now,
                )
                rows[(f"a:personal-{n}", t(MESSAGE_IDS[j]))] = key
            await uow.commit()
    assert len(rows) == users * per_user, "the texts must tell the rows apart"
    return rows


async def start_worker(
    database_url: str, connector_url: str, lease: float, *extra: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.dispatch_worker",
        database_url,
        connector_url,
        str(lease),
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.execute(select(outbox.c.idempotency_key, outbox.c.status))
        return {key: status for key, status in rows}


async def kill(worker: asyncio.subprocess.Process) -> bytes:
    if worker.returncode is None:
        worker.kill()
    _, stderr = await worker.communicate()
    return stderr


async def test_a_worker_killed_mid_send_loses_nothing_and_doubles_only_what_was_in_flight(
    pg_url: str,
    sessions: async_sessionmaker[AsyncSession],
    connector: tuple[LoopbackConnector, str],
) -> None:
    fake, url = connector
    fake.limits = Limits()  # Teams' limits, enforced with 429s
    fake.latency = 0.02  # a request takes a moment, so some are in flight at the kill
    rows = await seed(
        sessions, url, users=60, per_user=5, first_due=datetime.now(UTC) - timedelta(minutes=5)
    )
    about_a_third = asyncio.Event()

    def on_send(sent: Sent) -> None:
        if len(fake.sent) >= 100:
            about_a_third.set()

    fake.on_send = on_send
    lease = 1.0  # the dead worker's lease is what lets the next one take over its rows

    first = await start_worker(pg_url, url, lease)
    try:
        waiting = asyncio.ensure_future(about_a_third.wait())
        exited = asyncio.ensure_future(first.wait())
        done, _ = await asyncio.wait({waiting, exited}, timeout=30, return_when="FIRST_COMPLETED")
        waiting.cancel()
        exited.cancel()
        assert waiting in done, f"the worker sent {len(fake.sent)} messages, then stopped"
    finally:
        stderr = await kill(first)
    assert first.returncode == -9, stderr.decode()
    at_kill = await statuses(sessions)
    sent_at_kill = {k for k, s in at_kill.items() if s == "sent"}
    sending_at_kill = {k for k, s in at_kill.items() if s == "sending"}
    assert sent_at_kill and sending_at_kill and len(sent_at_kill) < len(rows)

    second = await start_worker(pg_url, url, lease)
    try:
        for _ in range(300):
            current = await statuses(sessions)
            if all(s == "sent" for s in current.values()) or second.returncode is not None:
                break
            await asyncio.sleep(0.1)
    finally:
        stderr = await kill(second)

    assert Counter(current.values()) == {"sent": len(rows)}, stderr.decode()
    received = Counter(rows[(s.conversation_id, s.activity["text"])] for s in fake.sent)
    assert set(received) == set(rows.values()), "a message was lost"
    doubled = {key for key, n in received.items() if n > 1}
    duplicates = sum(received.values()) - len(rows)
    print(
        f"\ncrash: {len(sent_at_kill)} sent and {len(sending_at_kill)} in 'sending' at the kill; "
        f"{duplicates} duplicate(s) {sorted(doubled)}; {fake.throttled} 429s"
    )
    assert not doubled & sent_at_kill, "a message confirmed as sent went out again"
    assert doubled <= sending_at_kill
    assert duplicates <= min(len(sending_at_kill), DISPATCHER_CONCURRENCY)
    assert max(received.values()) <= 2
    async with sessions() as session:
        attempts = await session.scalar(select(func.max(outbox.c.attempts)))
    assert attempts is not None and attempts >= 2  # the reclaimed rows were tried again


async def test_messages_that_fell_due_while_the_bot_was_down_go_out_on_the_first_tick(
    pg_url: str,
    sessions: async_sessionmaker[AsyncSession],
    connector: tuple[LoopbackConnector, str],
) -> None:
    fake, url = connector
    fake.limits = Limits()
    rows = await seed(
        sessions, url, users=8, per_user=5, first_due=datetime.now(UTC) - timedelta(hours=3)
    )

    worker = await start_worker(pg_url, url, 300, "--once")
    stdout, stderr = await asyncio.wait_for(worker.communicate(), timeout=30)

    assert worker.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == f"settled {len(rows)}"
    assert Counter((await statuses(sessions)).values()) == {"sent": len(rows)}
    received = Counter(rows[(s.conversation_id, s.activity["text"])] for s in fake.sent)
    assert received == Counter(set(rows.values()))
    assert fake.throttled == 0
