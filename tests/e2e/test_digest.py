"""The weekly coordinator digest: queued once a week for every coordinator, on a working
morning, and delivered as a card that lists what needs attention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import finnish_calendar
from consultations import intake, services
from storage.tables import outbox
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.connector import LoopbackConnector

HELSINKI = ZoneInfo("Europe/Helsinki")


async def _coordinated_team(bot: RunningBot, fake: LoopbackConnector, url: str) -> None:
    fake.roster = [a.user(n) for n in range(1, 4)]
    await bot.post(a.team_installed(url, a.user(1, "Outi Koordinaattori")))
    claim = next(x for x in fake.cards()[-1]["actions"] if x["verb"] == "role.claim")
    await bot.invoke(a.execute(url, a.user(1), "role.claim", claim["data"]))


async def test_the_digest_is_queued_once_a_week_per_coordinator(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    await _coordinated_team(bot, fake, url)
    monday = datetime(2026, 11, 23, 8, 0, tzinfo=HELSINKI)
    calendar = finnish_calendar()

    assert await services.queue_weekly_digest(bot.components.uow_factory(), monday, calendar) == 1
    # A restart on Wednesday runs it again: nothing new for the same week.
    wednesday = monday + timedelta(days=2)
    assert (
        await services.queue_weekly_digest(bot.components.uow_factory(), wednesday, calendar) == 0
    )
    next_monday = monday + timedelta(days=7)
    assert (
        await services.queue_weekly_digest(bot.components.uow_factory(), next_monday, calendar) == 1
    )


async def test_a_start_at_the_weekend_does_not_catch_up_a_digest_that_would_land_next_week(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    await _coordinated_team(bot, fake, url)
    sunday = datetime(2026, 11, 22, 13, 0, tzinfo=HELSINKI)
    wednesday = datetime(2026, 11, 18, 13, 0, tzinfo=HELSINKI)
    uows, calendar = bot.components.uow_factory, finnish_calendar()

    assert await services.queue_weekly_digest(uows(), sunday, calendar, catch_up=True) == 0
    assert await services.queue_weekly_digest(uows(), wednesday, calendar, catch_up=True) == 1


async def test_on_easter_monday_the_digest_waits_for_tuesday_morning(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    await _coordinated_team(bot, fake, url)
    easter_monday = datetime(2027, 3, 29, 8, 0, tzinfo=HELSINKI)

    await services.queue_weekly_digest(
        bot.components.uow_factory(), easter_monday, finnish_calendar()
    )

    async with bot.components.engine.connect() as connection:
        due = (
            await connection.execute(select(outbox.c.due_at).where(outbox.c.kind == "digest"))
        ).scalar_one()
    assert due == datetime(2027, 3, 30, 8, 0, tzinfo=HELSINKI).astimezone(UTC)


async def test_the_digest_card_tells_the_coordinator_about_failed_deliveries(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot(max_delivery_attempts=1)
    await _coordinated_team(bot, fake, url)
    # Member 2 has blocked the bot; a role notice to them dead-letters.
    fake.blocked["a:personal-29:user-2"] = 403
    async with bot.components.uow_factory() as uow:
        member = await uow.users.by_teams_id(a.user(2)["id"])
        team = (await uow.teams.all())[0]
    assert member is not None
    await services.grant_role(
        bot.components.uow_factory(),
        1,
        team.id,
        member.id,
        services.Role.COORDINATOR,
        frozenset(),
        datetime.now(UTC),
    )
    await bot.components.dispatcher.tick()
    # Only the coordinator who can be reached gets this week's digest: otherwise the
    # other's, dead-lettered at the same moment, might or might not be counted in it.
    await services.revoke_role(
        bot.components.uow_factory(),
        1,
        team.id,
        member.id,
        services.Role.COORDINATOR,
        frozenset(),
        datetime.now(UTC),
    )

    await services.queue_weekly_digest(
        bot.components.uow_factory(), datetime.now(UTC) - timedelta(days=7), finnish_calendar()
    )
    await bot.components.dispatcher.tick()

    digest = next(
        card
        for card in fake.cards("a:personal-29:user-1")
        if card["body"][0]["text"].startswith("Viikkokooste")
    )
    texts = [block.get("text", "") for block in digest["body"]]
    assert "Perille menemättömiä viestejä: 1." in texts
    assert "Ei tavoiteta: User 2." in texts
    assert digest["actions"][0]["verb"] == "deliveries.open"


async def test_the_digest_counts_the_queue_and_what_is_overdue(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    await _coordinated_team(bot, fake, url)
    calendar = finnish_calendar()
    # A Monday already past, so the dispatcher (on the real clock) sends it at once.
    monday = datetime(2026, 11, 16, 10, 0, tzinfo=HELSINKI)
    async with bot.components.uow_factory() as uow:
        requester = await uow.users.by_teams_id(a.user(2)["id"])
    assert requester is not None
    for submitted_at in (monday - timedelta(days=7), monday - timedelta(days=1)):
        case = await intake.start_request(
            bot.components.uow_factory(),
            requester.id,
            {"client_reference": "AB-1980", "consent": "typ_exception", "question": "Mitä?"},
            "review",
            submitted_at,
        )
        assert case.id is not None
        await intake.submit_request(
            bot.components.uow_factory(), requester.id, case.id, submitted_at, calendar
        )
    await bot.components.dispatcher.tick()

    await services.queue_weekly_digest(bot.components.uow_factory(), monday, calendar)
    await bot.components.dispatcher.tick()

    digest = next(
        card
        for card in fake.cards("a:personal-29:user-1")
        if card["body"][0]["text"].startswith("Viikkokooste")
    )
    texts = [block.get("text", "") for block in digest["body"]]
    # A week old is overdue; Sunday's (counted from Monday 08:00) is not yet.
    assert "Jonossa on 2 pyyntöä; myöhässä 1 (yli 2 työpäivää käsittelemättä)." in texts
    assert [action["verb"] for action in digest["actions"]] == ["request.queue"]
