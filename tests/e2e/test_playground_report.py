"""The report end to end through the real app and Microsoft 365 Agents Playground 0.2.28:
cases go through their life (the real use cases on the app's storage, the bot's clock
moved forward, never slept), then Alex Wilber, the team's coordinator, types `report`,
picks this quarter and reads the report the Playground shows him: the Playground renders
no charts, so the numbers must be in each chart's fallback table.

Who is who (see ``test_playground_poll.py``): Alex (``user-id-0``, ``en-US``) installs the
bot in "My Team" and coordinates it; Megan, Adele and Isaiah file the requests; Adele and
Isaiah are invited to the meetings and own recommendations.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import finnish_calendar
from bot.i18n import texts_for
from consultations.reports import Period, PeriodKind, add_months
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground_intake import (
    CARD,
    COORDINATOR,
    REQUESTER,
    _card_in,
    _execute_action,
    _install_and_claim,
)
from tests.e2e.test_playground_intake import stack as stack  # the fixture, re-exported
from tests.e2e.test_playground_poll import INVITEE, REQUIRED, _user_id
from tests.support.cards import find, inputs, texts
from tests.support.lives import live

pytestmark = pytest.mark.playground

HELSINKI = ZoneInfo("Europe/Helsinki")
EN = texts_for("en-US")
CHARTS = ("Chart.VerticalBar.Grouped", "Chart.Donut", "Chart.HorizontalBar", "Chart.VerticalBar")


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


async def test_a_coordinator_reads_this_quarters_report_in_the_playground(stack: Stack) -> None:
    pg = stack.pg
    clock = stack.clock
    calendar = finnish_calendar()
    await _install_and_claim(stack)
    # The cases live about three weeks: start them in a quarter that has that much left.
    today = clock.now().astimezone(HELSINKI).date()
    quarter_end = Period.of(PeriodKind.THIS_QUARTER, today).end
    if (quarter_end - today).days < 25:
        first = add_months(_quarter_start(today), 3)
        clock.move_to(datetime.combine(first + timedelta(days=3), time(9), tzinfo=HELSINKI))
    alex = await _user_id(stack, COORDINATOR)
    megan, adele, isaiah = [await _user_id(stack, u) for u in (REQUESTER, INVITEE, REQUIRED)]
    async with stack.components.uow_factory() as uow:
        (team,) = await uow.teams.all()
    seen = await live(
        stack.components.uow_factory,
        now=clock.now,
        move_to=clock.move_to,
        calendar=calendar,
        coordinator=alex,
        team_id=team.id,
        requesters=[megan, adele, isaiah, megan, adele, isaiah, megan],
        members=[adele, isaiah],
    )
    assert (seen.received, seen.accepted, seen.closed) == (7, 6, 6)

    mark = pg.mark()
    await pg.send_text(pg.personal_chat_id, "report")
    picker = await pg.wait_for_message(
        _card_in(pg.personal_chat_id, EN("report.picker.title")), start=mark
    )
    assert picker.card is not None
    assert inputs(picker.card)["period"]["value"] == "this_quarter"
    body = await pg.invoke_action(
        pg.personal_chat_id,
        picker.message_id,
        _execute_action(picker.card, "report.show", period="this_quarter"),
        from_id=COORDINATOR,
    )
    assert body["type"] == CARD, body
    card: dict[str, Any] = body["value"]
    shown = texts(card)
    assert EN("report.title.team", team="My Team") in shown
    assert EN("report.rec.rate", rate="75%", done="9", due="12") in shown
    # Every chart carries its numbers in a fallback the Playground can show.
    charts = find(card, lambda n: n.get("type") in CHARTS)
    assert sorted(c["type"] for c in charts) == sorted(
        ["Chart.VerticalBar.Grouped", "Chart.VerticalBar.Grouped", *CHARTS[1:]]
    )
    assert all(c["fallback"]["type"] in ("Table", "FactSet") for c in charts)
    months, lead = (c for c in charts if c["type"] == "Chart.VerticalBar.Grouped")
    assert "7" in texts(months["fallback"])
    assert EN("report.lead.triage") in texts(lead["fallback"])
    outcomes = next(c for c in charts if c["type"] == "Chart.HorizontalBar")
    assert {EN("outcome.employment"): "6"}.items() <= {
        f["title"]: f["value"] for f in outcomes["fallback"]["facts"]
    }.items()
    assert "< 5" in shown  # one declined request, not shown as a number
