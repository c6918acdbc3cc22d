"""The last two votes of a poll arrive through two instances at the same moment: the
coordinator hears "everyone has answered" exactly once (PostgreSQL, two apps on one
database, as behind a load balancer)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.tables import outbox
from tests.conftest import BotFactory
from tests.integration.test_polls import NOW, add_poll, new_poll, seed
from tests.support.activities import execute

pytestmark = pytest.mark.postgres

TRIES = 50
SERVICE_URL = "https://smba.example/emea/"


class FixedClock:
    def now(self) -> Any:
        return NOW


async def test_everyone_answered_is_told_once_when_the_last_votes_race_through_two_instances(
    pg_url: str, make_bot: BotFactory
) -> None:
    engine = create_engine(pg_url)
    try:
        await upgrade(engine)
        world = await seed(session_factory(engine), members=2)
        polls = [await add_poll(world, new_poll(world)) for _ in range(TRIES)]
    finally:
        await engine.dispose()
    first = await make_bot(pg_url, clock=FixedClock())
    second = await make_bot(pg_url, clock=FixedClock())

    def vote(member: int, poll_id: int, slot_ids: list[int]) -> dict[str, Any]:
        sender = {"id": f"29:user-{member}", "name": f"User {member}"}
        data = {"poll_id": poll_id, **{f"slot_{s}": "yes" for s in slot_ids}}
        return execute(SERVICE_URL, sender, "poll.vote", data)

    for poll in polls:
        assert poll.id is not None
        slot_ids = [s.id for s in poll.slots if s.id is not None]
        answered = await asyncio.gather(
            first.invoke(vote(1, poll.id, slot_ids)), second.invoke(vote(2, poll.id, slot_ids))
        )
        assert all(a["type"] == "application/vnd.microsoft.card.adaptive" for a in answered)

    async with first.components.engine.connect() as connection:
        payloads = (
            await connection.execute(
                select(outbox.c.payload).where(outbox.c.kind == "poll.everyone_answered")
            )
        ).scalars()
        told = Counter(payload["poll_id"] for payload in payloads)
    missing = [p.id for p in polls if p.id not in told]
    assert missing == [], f"{len(missing)} of {TRIES} polls never told the coordinator"
    assert set(told.values()) == {1}
