"""A reply inside a turn is never silently lost: Teams answering 429/412/5xx, or not at
all, costs the turn some retries or hands the reply to the outbox - never the card."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from tests.conftest import BotFactory
from tests.support import activities as a
from tests.support.connector import LoopbackConnector

HELP_TITLE = "Työkykytiimi – ohje"
FAULTS = (
    (429, {"Retry-After": "1"}),
    (412, {}),
    (502, {}),
    (503, {}),
    (504, {}),
)


class SteppingClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


def _helps(fake: LoopbackConnector) -> Counter[str]:
    """Help cards received, by the conversation (one user each) they went to."""
    return Counter(
        s.conversation_id
        for s in fake.sent
        for att in s.activity.get("attachments") or []
        if att["content"]["body"][0]["text"] == HELP_TITLE
    )


async def test_a_hundred_help_replies_under_35_percent_faults_all_arrive_once(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    rng = random.Random(35)
    # About every third request to the connector fails, in a fixed random order
    # (status 0: this one goes through).
    fake.faults.extend(rng.choice(FAULTS) if rng.random() < 0.35 else (0, {}) for _ in range(600))

    users = [a.user(100 + n) for n in range(100)]
    answers = await asyncio.gather(*(bot.post(a.text(url, user, "apua")) for user in users))
    assert [r.status for r in answers] == [200] * 100
    # What a turn could not deliver in time was handed to the outbox: send it.
    for _ in range(20):
        if len(_helps(fake)) == 100:
            break
        clock.current += timedelta(minutes=1)
        await bot.components.dispatcher.tick()
    delivered = _helps(fake)
    print(
        f"\nreplies: {sum(delivered.values())} help cards to {len(delivered)} users, "
        f"{bot.components.replies.handed_over} handed to the outbox"
    )
    assert set(delivered) == {f"a:personal-{u['id']}" for u in users}, "a reply was lost"
    assert max(delivered.values()) == 1, "a reply went out twice"


async def test_a_turn_never_waits_long_on_a_service_url_that_does_not_answer(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    fake.latency = 60.0  # the connector accepts the connection and never answers
    started = time.monotonic()
    response = await bot.post(a.text(url, a.user(1), "apua"))
    took = time.monotonic() - started
    assert response.status == 200
    assert took < 10, f"the turn waited {took:.1f}s"
    assert bot.components.replies.handed_over == 1
    # Teams answers again: the outbox delivers the reply.
    fake.latency = 0.0
    clock.current += timedelta(minutes=1)
    await bot.components.dispatcher.tick()
    assert _helps(fake) == {f"a:personal-{a.user(1)['id']}": 1}
