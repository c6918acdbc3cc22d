"""Reports end to end through the real app and a loopback Bot Connector: after cases have
gone through their life, the coordinator asks for this quarter's report with the Finnish
command word, reads it, and downloads the workbook; a member who coordinates nothing is
refused politely."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import openpyxl
from sqlalchemy import select

from bot.app import finnish_calendar
from bot.i18n import texts_for
from storage.tables import audit_events
from tests.conftest import BotFactory
from tests.e2e.test_intake import COORDINATOR, OTHER, SteppingClock, chat, click, setup
from tests.e2e.test_poll import MEMBER_B, member_id
from tests.support import activities as a
from tests.support.cards import find, inputs, texts
from tests.support.connector import LoopbackConnector
from tests.support.lives import live

FI = texts_for("fi-FI")
REQUESTERS = [a.user(n, f"Pyytäjä {n}") for n in range(10, 17)]


async def team_id(bot: Any) -> int:
    async with bot.components.uow_factory() as uow:
        (team,) = await uow.teams.all()
    return team.id


async def test_a_coordinator_reads_this_quarters_report_after_cases_have_lived(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()  # Monday 23.11.2026 10:00 in Helsinki
    bot = await make_bot(clock=clock)
    await setup(bot, fake, url, [COORDINATOR, OTHER, MEMBER_B, *REQUESTERS])
    people = {u["id"]: await member_id(bot, u) for u in [COORDINATOR, OTHER, MEMBER_B, *REQUESTERS]}

    def move_to(moment: Any) -> None:
        clock.current = moment

    seen = await live(
        bot.components.uow_factory,
        now=clock.now,
        move_to=move_to,
        calendar=finnish_calendar(),
        coordinator=people[COORDINATOR["id"]],
        team_id=await team_id(bot),
        requesters=[people[r["id"]] for r in REQUESTERS],
        members=[people[OTHER["id"]], people[MEMBER_B["id"]]],
    )
    assert (seen.received, seen.accepted, seen.closed, seen.done) == (7, 6, 6, 9)

    # A member who coordinates no team is told where the figures come from.
    await bot.post(a.text(url, OTHER, "raportti"))
    assert fake.texts(chat(OTHER))[-1] == FI("error.report_coordinators_only")

    await bot.post(a.text(url, COORDINATOR, "Raportti"))
    picker = fake.cards(chat(COORDINATOR))[-1]
    assert FI("report.picker.title") in texts(picker)
    assert inputs(picker)["period"]["value"] == "this_quarter"
    assert "team" not in inputs(picker), "one team: nothing to choose"
    report = await click(bot, url, COORDINATOR, picker, "report.show", period="this_quarter")
    shown = texts(report)
    assert FI("report.title.team", team="Työkykytiimi Pohjoinen") in shown
    facts = {f["title"]: f["value"] for f in find(report, lambda n: "title" in n and "value" in n)}
    assert facts[FI("report.received")] == "7"
    assert facts[FI("report.fate.accepted")] == "6"
    assert facts[FI("report.fate.declined")] == "< 5"
    assert facts[FI("report.closing.closed")] == "6"
    assert facts[FI("report.meetings.held")] == "6"
    assert FI("report.rec.rate", rate="75 %", done="9", due="12") in shown
    assert facts[FI("report.owner.team_member")] == FI(
        "report.rec.owner_value", rate="100 %", done="6", due="6"
    )

    # The workbook behind the card's link has the same figures.
    link = next(n["url"] for n in find(report, lambda n: n.get("type") == "Action.OpenUrl"))
    response = await bot.client.get("/" + link.split("/", 3)[3])
    assert response.status == 200
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    requests = list(book[FI("report.sheet.requests")].iter_rows(values_only=True))
    total = next(row for row in requests if row[1] == FI("report.export.total"))
    assert total[2:4] == (7, 6)

    clock.current += timedelta(hours=9)
    assert (await bot.client.get("/" + link.split("/", 3)[3])).status == 404

    async with bot.components.engine.connect() as connection:
        trail = (
            await connection.execute(
                select(audit_events.c.action).where(audit_events.c.subject_type == "report")
            )
        ).scalars()
        assert list(trail) == ["report.viewed", "report.exported"]
