"""The availability poll end to end through the real app and Microsoft 365 Agents Playground
0.2.28: the coordinator proposes two times on an accepted case, two team members vote with
Action.Execute (one changes a vote), the overview shows the tallies, and finalizing sends
the attendees and the requester a confirmation whose .ics link the app serves.

Who is who in the Playground's built-in tenant (see ``test_playground_intake.py``):

* Alex Wilber (``user-id-0``, the current user, ``en-US``) installs the bot in "My Team",
  claims the coordinator role and does everything through the Playground's own invoke API;
  the refreshed card is the invoke's HTTP response, the bot's proactive cards to Alex are
  conversation frames in Alex's personal chat.
* Megan Bowen (``user-id-1``, ``fi-FI``) files the request.
* Adele Vance (``user-id-2``, ``fi-FI``) and Isaiah Langer (``user-id-3``, required,
  ``sv-SE``) are invited, so votes go through the Playground in Finnish and Swedish and
  Alex's overview in English.
  They act with custom activities in their own 1:1 chats with the bot; the bot's posts
  there and their invoke responses are read from the Playground's inspector log.

The Playground's app runs on the system clock, so the proposed times are computed from the
real date: working days (Finnish calendar) after today.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.app import SETTINGS, finnish_calendar
from consultations.calendar import BusinessCalendar
from consultations.consultation import CaseStatus
from storage.tables import consultations, users
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground_intake import (
    CARD,
    COORDINATOR,
    REQUESTER,
    ChatUser,
    Posted,
    _basics,
    _card_in,
    _execute_action,
    _expected_case_number,
    _install_and_claim,
)
from tests.e2e.test_playground_intake import stack as stack  # the fixture, re-exported
from tests.support.cards import actions, inputs, nodes, texts

pytestmark = pytest.mark.playground

HELSINKI = ZoneInfo("Europe/Helsinki")
INVITEE = "user-id-2"  # Adele Vance
REQUIRED = "user-id-3"  # Isaiah Langer
PLACE = "Neuvotteluhuone Kuusi"
QUESTION = "Mikä tukisi asiakkaan paluuta työelämään?"

# Texts from bot/i18n/locales/*/LC_MESSAGES/messages.po, spelled out: they are what users see.
FI_VOTES_SAVED = "Vastauksesi on tallennettu. Voit muuttaa niitä vastausajan loppuun asti."
SV_VOTES_SAVED = "Dina svar har sparats. Du kan ändra dem tills svarstiden går ut."
FI_REQUIRED = "Sinut on merkitty välttämättömäksi osallistujaksi."
EN_BEST = "recommended"
EN_EVERYONE_ANSWERED = "Everyone invited has answered. You can choose the time now."
EN_POLL_OPENED = "The poll is open and the invitations have been sent."
EN_TIME_FIXED = "Time fixed"


def _en_slot(day: date, start: str, end: str) -> str:
    """A slot as the English cards write it: "Tue 5 Jan, 09:00–10:00"."""
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b')}, {start}–{end}"


_FI_WEEKDAYS = ("ma", "ti", "ke", "to", "pe", "la", "su")
_SV_WEEKDAYS = ("mån", "tis", "ons", "tors", "fre", "lör", "sön")


def _fi_slot(day: date, start: str, end: str) -> str:
    """A slot as the Finnish cards write it: "ti 5.1. klo 9.00–10.00"."""
    return f"{_FI_WEEKDAYS[day.weekday()]} {day.day}.{day.month}. klo {start}–{end}"


def _sv_slot(day: date, start: str, end: str) -> str:
    """A slot as the Finland-Swedish cards write it: "tis 5.1 kl. 9.00–10.00"."""
    return f"{_SV_WEEKDAYS[day.weekday()]} {day.day}.{day.month} kl. {start}–{end}"


def _tally(yes: int, if_need_be: int, no: int) -> str:
    return f"Yes {yes} · if need be {if_need_be} · no {no}"


def _working_days_after(today: date, calendar: BusinessCalendar, count: int) -> list[date]:
    days: list[date] = []
    day = today
    while len(days) < count:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            days.append(day)
    return days


def _choice_ids(card: dict[str, Any]) -> list[str]:
    """The vote card's per-slot inputs, in the order the card shows the slots."""
    return [
        n["id"]
        for n in nodes(card)
        if n.get("type") == "Input.ChoiceSet" and str(n.get("id", "")).startswith("slot_")
    ]


def _executes(card: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [n for n in nodes(card) if n.get("type") == "Action.Execute" and n["verb"] == verb]


def _open_urls(card: dict[str, Any]) -> list[str]:
    return [str(n["url"]) for n in nodes(card) if n.get("type") == "Action.OpenUrl"]


async def _accepted_case(stack: Stack, megan: ChatUser) -> Posted:
    """Megan files a request, Alex accepts it; returns Alex's triage message (accepted)."""
    pg = stack.pg
    page = await _basics(megan)
    page = await megan.click(
        page, "request.next", question=QUESTION, situation="Sairauslomaa 9 kk.", history=""
    )
    page = await megan.click(page, "request.next", self_rating="4", goals="Osa-aikatyö")
    page = await megan.click(page, "request.next", services="kela", barriers="person.pain")
    review = await megan.click(
        page, "request.next", professions="physician,social_worker", client_attends="yes"
    )
    await megan.click(review, "request.submit")

    mark = pg.mark()
    await stack.components.dispatcher.tick()
    triage = await pg.wait_for_message(_card_in(pg.personal_chat_id, QUESTION), start=mark)
    assert triage.card is not None
    accepted = await pg.invoke_action(
        pg.personal_chat_id,
        triage.message_id,
        _execute_action(triage.card, "triage.accept"),
        from_id=COORDINATOR,
    )
    assert accepted["type"] == CARD, accepted
    assert "poll.setup" in actions(accepted["value"]), texts(accepted["value"])
    # The Playground now holds the returned card under the same message id.
    return Posted(triage.message_id, accepted["value"])


async def _user_id(stack: Stack, teams_user_id: str) -> int:
    async with stack.components.engine.connect() as connection:
        found = (
            await connection.execute(
                select(users.c.id).where(users.c.teams_user_id == teams_user_id)
            )
        ).scalar_one()
    return int(found)


async def test_a_poll_through_the_playground_fixes_the_time_and_serves_the_ics(
    stack: Stack,
) -> None:
    pg = stack.pg
    dispatcher = stack.components.dispatcher
    case_number = _expected_case_number()
    await _install_and_claim(stack)
    alex_chat = pg.personal_chat_id
    megan = await ChatUser.open(pg, REQUESTER)
    adele = await ChatUser.open(pg, INVITEE)
    isaiah = await ChatUser.open(pg, REQUIRED)
    triage = await _accepted_case(stack, megan)

    # Two times on working days after today, the deadline at noon the working day before.
    calendar = finnish_calendar()
    deadline_day, day1, day2 = _working_days_after(datetime.now(HELSINKI).date(), calendar, 3)
    slot1 = datetime.combine(day1, time(9), tzinfo=HELSINKI)
    slot2 = datetime.combine(day2, time(13), tzinfo=HELSINKI)
    assert datetime.combine(deadline_day, time(12), tzinfo=HELSINKI) > datetime.now(HELSINKI)

    # Alex opens the setup card from the accepted case, then the poll.
    setup = await pg.invoke_action(
        alex_chat,
        triage.message_id,
        _execute_action(triage.card, "poll.setup"),
        from_id=COORDINATOR,
    )
    assert setup["type"] == CARD, setup
    setup_card = setup["value"]
    assert {"slot1_date", "slot1_time", "invitees", "required", "deadline_date"} <= set(
        inputs(setup_card)
    )
    roster = {c["value"] for c in inputs(setup_card)["invitees"]["choices"]}
    adele_id, isaiah_id = await _user_id(stack, INVITEE), await _user_id(stack, REQUIRED)
    assert {str(adele_id), str(isaiah_id)} <= roster
    no_slot = {f"slot{i}_{part}": "" for i in (3, 4) for part in ("date", "time")}
    opened = await pg.invoke_action(
        alex_chat,
        triage.message_id,
        _execute_action(
            setup_card,
            "poll.open",
            slot1_date=day1.isoformat(),
            slot1_time="09:00",
            slot1_minutes="60",
            slot2_date=day2.isoformat(),
            slot2_time="13:00",
            slot2_minutes="60",
            **no_slot,
            invitees=f"{adele_id},{isaiah_id}",
            required=str(isaiah_id),
            deadline_date=deadline_day.isoformat(),
            deadline_time="12:00",
            place=PLACE,
        ),
        from_id=COORDINATOR,
    )
    assert opened["type"] == CARD, opened
    overview = opened["value"]
    assert len(_executes(overview, "poll.finalize")) == 2, texts(overview)
    assert EN_POLL_OPENED in texts(overview)
    assert "0/2" in texts(overview) and PLACE in texts(overview)

    # The invitees get their vote cards in their own chats.
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    adele_card = await adele.delivered_card(stack, mark)
    isaiah_card = await isaiah.delivered_card(stack, mark)
    first, second = _choice_ids(adele_card.card)
    assert _choice_ids(isaiah_card.card) == [first, second]
    assert "poll.vote" in actions(adele_card.card)
    assert FI_REQUIRED in texts(isaiah_card.card)
    assert FI_REQUIRED not in texts(adele_card.card)

    # Adele says yes to both; the refreshed card comes back in the invoke response.
    voted = await adele.click(adele_card, "poll.vote", **{first: "yes", second: "yes"})
    assert FI_VOTES_SAVED in texts(voted.card)
    assert [inputs(voted.card)[k].get("value") for k in (first, second)] == ["yes", "yes"]
    # Then she finds the first time does not suit her after all.
    changed = await adele.click(voted, "poll.vote", **{first: "no", second: "yes"})
    assert [inputs(changed.card)[k].get("value") for k in (first, second)] == ["no", "yes"]

    # Alex refreshes the overview: one of two has answered, with Adele's answers as changed.
    refreshed = await pg.invoke_action(
        alex_chat,
        triage.message_id,
        _execute_action(overview, "poll.refresh"),
        from_id=COORDINATOR,
    )
    assert refreshed["type"] == CARD, refreshed
    assert "1/2" in texts(refreshed["value"])
    assert _tally(0, 0, 1) in texts(refreshed["value"])
    assert _tally(1, 0, 0) in texts(refreshed["value"])

    isaiah.locale = "sv-SE"  # Isaiah's Teams is in Swedish: his answers come back in Swedish
    voted = await isaiah.click(isaiah_card, "poll.vote", **{first: "if_need_be", second: "yes"})
    assert [inputs(voted.card)[k].get("value") for k in (first, second)] == ["if_need_be", "yes"]
    assert SV_VOTES_SAVED in texts(voted.card)

    # Everyone has answered: Alex is told, with the tallies; the second time is recommended.
    mark = pg.mark()
    await dispatcher.tick()
    told = await pg.wait_for_message(_card_in(alex_chat, EN_EVERYONE_ANSWERED), start=mark)
    assert told.card is not None
    shown = texts(told.card)
    assert "2/2" in shown and case_number in shown
    assert shown.index(_tally(0, 1, 1)) < shown.index(_tally(2, 0, 0)), shown
    choose = {str(a["data"]["slot_id"]): a for a in _executes(told.card, "poll.finalize")}
    second_slot = second.removeprefix("slot_")
    assert choose.keys() == {first.removeprefix("slot_"), second_slot}
    recommended = choose[second_slot]
    assert recommended.get("style") == "positive" and not recommended["data"].get("override")
    label1, label2 = _en_slot(day1, "09:00", "10:00"), _en_slot(day2, "13:00", "14:00")
    assert f"**{label1}**" in shown and f"**{label2} · {EN_BEST}**" in shown, shown

    # Alex fixes the recommended time; the invoke response is the finalized overview.
    finalized = await pg.invoke_action(
        alex_chat,
        told.message_id,
        {"type": "Action.Execute", "verb": "poll.finalize", "data": recommended["data"]},
        from_id=COORDINATOR,
    )
    assert finalized["type"] == CARD, finalized
    assert "poll.reschedule" in actions(finalized["value"])
    assert EN_TIME_FIXED in texts(finalized["value"])
    assert f"Consultation time: {label2}" in texts(finalized["value"])
    assert not _executes(finalized["value"], "poll.finalize")
    async with stack.components.engine.connect() as connection:
        status = (await connection.execute(select(consultations.c.status))).scalar_one()
    assert status == CaseStatus.SCHEDULED.value

    # The attendees and the requester get a confirmation with a link to the .ics.
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    base_url = stack.app[SETTINGS].base_url()
    slot_as_shown = {
        adele.user_id: _fi_slot(day2, "13.00", "14.00"),
        isaiah.user_id: _sv_slot(day2, "13.00", "14.00"),  # he last wrote in Swedish
        megan.user_id: _fi_slot(day2, "13.00", "14.00"),
    }
    for person in (adele, isaiah, megan):
        confirmation = await person.delivered_card(stack, mark)
        shown = texts(confirmation.card)
        assert case_number in shown and PLACE in shown
        assert slot_as_shown[person.user_id] in shown, shown
        links = [url for url in _open_urls(confirmation.card) if url.endswith(".ics")]
        assert len(links) == 1 and links[0].startswith(base_url + "/links/ics/"), links
        async with pg.session.get(links[0]) as response:
            assert response.status == 200, person.user_id
            assert response.content_type == "text/calendar"
            calendar_file = Calendar.from_ical(await response.read())
        (event,) = calendar_file.walk("VEVENT")
        assert event.decoded("DTSTART") == slot2
        assert event["DTSTART"].params["TZID"] == "Europe/Helsinki"
        assert event.decoded("DTEND") == slot2 + timedelta(minutes=60)
        assert str(event["LOCATION"]) == PLACE
        assert case_number in str(event["SUMMARY"])
        zones = calendar_file.walk("VTIMEZONE")
        assert [str(z["TZID"]) for z in zones] == ["Europe/Helsinki"]
    assert slot1 < slot2  # the earlier time lost once Adele changed her answer
