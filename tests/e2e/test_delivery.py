"""The delivery engine end to end: the real app, its outbox and dispatcher, and a loopback
Bot Connector that enforces Teams' limits and answers with faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from consultations.model import OutgoingMessage, RecipientType
from storage.tables import outbox
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.connector import Limits, LoopbackConnector

TEXTS = ("profession.nurse", "profession.physician", "profession.psychologist")


class SteppingClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


async def _team_with_coordinator(bot: RunningBot, fake: LoopbackConnector, url: str) -> int:
    fake.roster = [a.user(n) for n in range(1, 6)]
    await bot.post(a.team_installed(url, a.user(1, "Outi Koordinaattori")))
    claim = next(x for x in fake.cards()[-1]["actions"] if x["verb"] == "role.claim")
    await bot.invoke(a.execute(url, a.user(1), "role.claim", claim["data"]))
    return int(claim["data"]["team_id"])


async def _queue_texts(bot: RunningBot, team_id: int, users: range, now: datetime) -> None:
    async with bot.components.uow_factory() as uow:
        for n in users:
            user = await uow.users.by_teams_id(a.user(n)["id"])
            assert user is not None
            for i, message_id in enumerate(TEXTS):
                await uow.outbox.add(
                    OutgoingMessage(
                        idempotency_key=f"test:{n}:{i}",
                        kind="text",
                        recipient_type=RecipientType.USER,
                        recipient_id=str(user.id),
                        due_at=now,
                        payload={"message_id": message_id},
                        team_id=team_id,
                    ),
                    now,
                )
        await uow.commit()


async def _drain(bot: RunningBot, clock: SteppingClock, rounds: int = 30) -> None:
    for _ in range(rounds):
        await bot.components.dispatcher.tick()
        async with bot.components.engine.connect() as connection:
            waiting = (
                await connection.execute(
                    select(outbox.c.id).where(outbox.c.status.in_(("pending", "sending")))
                )
            ).all()
        if not waiting:
            return
        clock.current += timedelta(minutes=15)
    raise AssertionError("outbox did not drain")


async def test_faults_and_throttling_lose_nothing_and_double_nothing(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    fake.limits = Limits()
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    team_id = await _team_with_coordinator(bot, fake, url)
    await _queue_texts(bot, team_id, range(2, 6), clock.now())

    # Teams answers the first sends with a throttle, a precondition failure and an outage;
    # and member 5 has blocked the bot.
    fake.faults.extend([(429, {"Retry-After": "2"}), (412, {}), (503, {})])
    fake.blocked["a:personal-29:user-5"] = 403
    await _drain(bot, clock)

    for n in (2, 3, 4):
        received = [
            s.activity["text"] for s in fake.sent if s.conversation_id == f"a:personal-29:user-{n}"
        ]
        assert received == ["Terveydenhoitaja / sairaanhoitaja", "Lääkäri", "Psykologi"]
    assert not [s for s in fake.sent if s.conversation_id == "a:personal-29:user-5"]
    assert fake.throttled == 0, "the bot stayed inside Teams' limits by itself"

    # The coordinator hears once that member 5 cannot be reached, not once per message.
    notices = [
        card
        for card in fake.cards("a:personal-29:user-1")
        if card["body"][0]["text"] == "Jäsentä ei tavoiteta"
    ]
    assert len(notices) == 1
    assert "User 5" in notices[0]["body"][1]["text"]

    async with bot.components.engine.connect() as connection:
        statuses = dict(
            (
                await connection.execute(
                    select(outbox.c.idempotency_key, outbox.c.status).where(outbox.c.kind == "text")
                )
            ).all()
        )
    assert {k: v for k, v in statuses.items() if v != "sent"} == {
        "test:5:0": "dead",
        "test:5:1": "dead",
        "test:5:2": "dead",
    }

    # The coordinator sees the dead letters.
    await bot.post(a.text(url, a.user(1), "toimitukset"))
    failures = fake.cards("a:personal-29:user-1")[-1]
    assert failures["body"][0]["text"] == "Perille menemättömät viestit"
    assert sum(1 for block in failures["body"] if block["type"] == "FactSet") == 3


async def test_a_message_that_keeps_failing_is_dead_lettered_after_the_last_attempt(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock, max_delivery_attempts=3)
    team_id = await _team_with_coordinator(bot, fake, url)
    await _queue_texts(bot, team_id, range(2, 3), clock.now())
    fake.blocked["a:personal-29:user-2"] = 503

    await _drain(bot, clock)

    async with bot.components.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(outbox.c.status, outbox.c.attempts, outbox.c.last_error)
                .where(outbox.c.kind == "text")
                .order_by(outbox.c.id)
            )
        ).all()
    # Each is tried three times, one after another: none overtakes the one before it.
    assert [tuple(r) for r in rows] == [("dead", 3, "HTTP 503")] * 3
    assert not [s for s in fake.sent if s.conversation_id == "a:personal-29:user-2"]


async def test_a_reminder_queued_before_a_restart_goes_out_after_it(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], tmp_path: object
) -> None:
    fake, url = connector
    clock = SteppingClock()
    database = f"sqlite+aiosqlite:///{tmp_path}/restart.db"
    first = await make_bot(database, clock=clock)
    team_id = await _team_with_coordinator(first, fake, url)
    await _queue_texts(first, team_id, range(2, 3), clock.now() + timedelta(hours=1))
    await first.close()

    clock.current += timedelta(hours=2)
    second = await make_bot(database, clock=clock)
    await second.components.dispatcher.tick()
    received = [
        s.activity["text"] for s in fake.sent if s.conversation_id == "a:personal-29:user-2"
    ]
    assert received == ["Terveydenhoitaja / sairaanhoitaja", "Lääkäri", "Psykologi"]


async def test_a_channel_notice_goes_to_the_teams_channel(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    team_id = await _team_with_coordinator(bot, fake, url)
    async with bot.components.uow_factory() as uow:
        await uow.outbox.add(
            OutgoingMessage(
                idempotency_key="channel:1",
                kind="text",
                recipient_type=RecipientType.CHANNEL,
                recipient_id="19:team-general@thread.tacv2",
                due_at=clock.now(),
                payload={"message_id": "profession.kela"},
                team_id=team_id,
            ),
            clock.now(),
        )
        await uow.commit()

    await bot.components.dispatcher.tick()

    assert fake.texts("19:team-general@thread.tacv2")[-1] == "Kela"
