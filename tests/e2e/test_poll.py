"""The availability poll end to end: a coordinator proposes times from an accepted case,
the invited members vote through Action.Execute, the overview shows the tallies, and
finalizing sends every attendee and the requester an .ics invitation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from bot.i18n import texts_for
from consultations.consultation import CaseStatus
from storage.tables import consultations, outbox
from tests.conftest import BotFactory, RunningBot
from tests.e2e.test_intake import (
    COORDINATOR,
    REQUESTER,
    SteppingClock,
    chat,
    click,
    file_request,
    setup,
)
from tests.support import activities as a
from tests.support.cards import actions, executes, find, inputs, open_urls, texts
from tests.support.connector import LoopbackConnector

HELSINKI = ZoneInfo("Europe/Helsinki")
MEMBER_A, MEMBER_B = a.user(3, "Olli Ulkopuolinen"), a.user(4, "Liisa Lääkäri")


async def accepted_case(bot: RunningBot, fake: LoopbackConnector, url: str) -> dict[str, Any]:
    """A submitted and accepted request; returns the coordinator's accepted triage card."""
    await setup(bot, fake, url, [COORDINATOR, REQUESTER, MEMBER_A, MEMBER_B])
    review = await file_request(bot, fake, url, "Mikä tukisi työhön paluuta?")
    await click(bot, url, REQUESTER, review, "request.submit")
    await bot.components.dispatcher.tick()
    triage = fake.cards(chat(COORDINATOR))[-1]
    return await click(bot, url, COORDINATOR, triage, "triage.accept")


async def member_id(bot: RunningBot, user: dict[str, Any]) -> int:
    async with bot.components.uow_factory() as uow:
        found = await uow.users.by_teams_id(user["id"])
    assert found is not None
    return found.id


async def open_thursday_poll(
    bot: RunningBot, url: str, accepted: dict[str, Any], place: str = "Neuvotteluhuone Kuusi"
) -> dict[str, Any]:
    """From the accepted triage card: one time, Thursday 26.11.2026 13:00-14:00, both
    members invited (B required), answers by Wednesday noon; returns the overview."""
    setup_card = await click(bot, url, COORDINATOR, accepted, "poll.setup")
    a_id, b_id = await member_id(bot, MEMBER_A), await member_id(bot, MEMBER_B)
    return await click(
        bot,
        url,
        COORDINATOR,
        setup_card,
        "poll.open",
        slot1_date="2026-11-26",
        slot1_time="13:00",
        slot1_minutes="60",
        invitees=f"{a_id},{b_id}",
        required=str(b_id),
        deadline_date="2026-11-25",
        deadline_time="12:00",
        place=place,
    )


async def fix_with_both_yes(
    bot: RunningBot, fake: LoopbackConnector, url: str, overview: dict[str, Any]
) -> dict[str, Any]:
    """Both members answer yes; the coordinator fixes the time. Returns the invoke's answer."""
    await bot.components.dispatcher.tick()
    for member in (MEMBER_A, MEMBER_B):
        vote = fake.cards(chat(member))[-1]
        slot = next(k for k in inputs(vote) if k.startswith("slot_"))
        await click(bot, url, member, vote, "poll.vote", **{slot: "yes"})
    choose = next(x for x in executes(overview) if x["verb"] == "poll.finalize")
    return await bot.invoke(a.execute(url, COORDINATOR, "poll.finalize", choose["data"]))


async def test_a_poll_finds_the_time_and_sends_ics_invitations(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()  # Monday 23.11.2026 10:00 in Helsinki
    bot = await make_bot(clock=clock)
    accepted = await accepted_case(bot, fake, url)

    setup_card = await click(bot, url, COORDINATOR, accepted, "poll.setup")
    assert {"slot1_date", "invitees", "required", "deadline_date"} <= set(inputs(setup_card))
    a_id, b_id = await member_id(bot, MEMBER_A), await member_id(bot, MEMBER_B)
    overview = await click(
        bot,
        url,
        COORDINATOR,
        setup_card,
        "poll.open",
        slot1_date="2026-11-26",
        slot1_time="13:00",
        slot1_minutes="60",
        slot2_date="2026-11-27",
        slot2_time="09:00",
        slot2_minutes="90",
        slot3_date="",
        slot3_time="",
        slot4_date="",
        slot4_time="",
        invitees=f"{a_id},{b_id}",
        required=str(b_id),
        deadline_date="2026-11-25",
        deadline_time="12:00",
        place="Neuvotteluhuone Kuusi",
    )
    assert "poll.finalize" in {x["verb"] for x in executes(overview)}

    await bot.components.dispatcher.tick()
    vote_a = fake.cards(chat(MEMBER_A))[-1]
    vote_b = fake.cards(chat(MEMBER_B))[-1]
    slot_inputs = sorted(k for k in inputs(vote_a) if k.startswith("slot_"))
    assert len(slot_inputs) == 2
    first, second = slot_inputs

    # Member A says yes to both, then changes the second to "no"; the card comes back
    # refreshed with the answers as they now stand.
    refreshed = await click(
        bot, url, MEMBER_A, vote_a, "poll.vote", **{first: "yes", second: "yes"}
    )
    assert inputs(refreshed)[second]["value"] == "yes"
    refreshed = await click(
        bot, url, MEMBER_A, refreshed, "poll.vote", **{first: "yes", second: "no"}
    )
    assert inputs(refreshed)[second]["value"] == "no"
    # Nobody votes for someone else: the coordinator is not invited.
    not_invited = await bot.invoke(
        a.execute(
            url, COORDINATOR, "poll.vote", {**actions(vote_a)["poll.vote"]["data"], first: "no"}
        )
    )
    assert not_invited["type"] == "application/vnd.microsoft.activity.message"
    await click(bot, url, MEMBER_B, vote_b, "poll.vote", **{first: "if_need_be", second: "yes"})

    # Everyone has answered: the coordinator hears of it, with the tallies.
    await bot.components.dispatcher.tick()
    told = fake.cards(chat(COORDINATOR))[-1]
    assert "poll.finalize" in {x["verb"] for x in executes(told)}
    finalize = [x for x in executes(told) if x["verb"] == "poll.finalize"]
    recommended_first = next(
        x for x in finalize if str(x["data"]["slot_id"]) == first.removeprefix("slot_")
    )
    assert not recommended_first["data"].get("override")

    body = await bot.invoke(a.execute(url, COORDINATOR, "poll.finalize", recommended_first["data"]))
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "poll.reschedule" in {x["verb"] for x in executes(body["value"])}
    async with bot.components.engine.connect() as connection:
        status = (await connection.execute(select(consultations.c.status))).scalar_one()
    assert status == CaseStatus.SCHEDULED.value

    # Attendees and the requester get the confirmation with an .ics link.
    await bot.components.dispatcher.tick()
    for user in (MEMBER_A, MEMBER_B, REQUESTER):
        confirmation = fake.cards(chat(user))[-1]
        link = next(x["url"] for x in open_urls(confirmation) if ".ics" in x["url"])
        path = link.split("://", 1)[1].split("/", 1)[1]
        response = await bot.client.get("/" + path)
        assert response.status == 200
        calendar = Calendar.from_ical(await response.read())
        event = next(c for c in calendar.walk("VEVENT"))
        assert event.decoded("DTSTART") == datetime(2026, 11, 26, 13, 0, tzinfo=HELSINKI)
        assert str(event["LOCATION"]) == "Neuvotteluhuone Kuusi"
        assert "TK-2026-0001" in str(event["SUMMARY"])
    assert any(c.name == "VTIMEZONE" for c in calendar.walk())

    # A forged link gets nothing.
    _links, _purpose, token, filename = path.split("/")
    body_part, mac = token.split(".")
    for forged in (f"{body_part}.{'A' * len(mac)}", f"{body_part[:-2]}AA.{mac}"):
        response = await bot.client.get(f"/links/ics/{forged}/{filename}")
        assert response.status == 404

    # The nudges were cancelled when the poll closed: none goes out later.
    sent_before = len(fake.sent)
    clock.current += timedelta(days=3)
    await bot.components.dispatcher.tick()
    assert not [
        s for s in fake.sent[sent_before:] if s.conversation_id in (chat(MEMBER_A), chat(MEMBER_B))
    ]
    # A week after the meeting (Thursday 26.11) the invitation's link no longer works.
    assert (await bot.client.get("/" + path)).status == 200
    clock.current = datetime(2026, 12, 3, 14, 1, tzinfo=HELSINKI).astimezone(UTC)
    assert (await bot.client.get("/" + path)).status == 404
    async with bot.components.engine.connect() as connection:
        nudges = (
            (await connection.execute(select(outbox.c.status).where(outbox.c.kind == "poll.nudge")))
            .scalars()
            .all()
        )
    assert nudges and set(nudges) == {"cancelled"}


async def test_a_non_responder_is_nudged_one_working_day_before_the_deadline(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    accepted = await accepted_case(bot, fake, url)
    setup_card = await click(bot, url, COORDINATOR, accepted, "poll.setup")
    a_id = await member_id(bot, MEMBER_A)
    await click(
        bot,
        url,
        COORDINATOR,
        setup_card,
        "poll.open",
        slot1_date="2026-11-30",
        slot1_time="13:00",
        slot1_minutes="60",
        invitees=str(a_id),
        required="",
        deadline_date="2026-11-27",
        deadline_time="12:00",
        place="",
    )
    await bot.components.dispatcher.tick()
    invited = len(fake.cards(chat(MEMBER_A)))

    clock.current = datetime(2026, 11, 26, 9, 59, tzinfo=HELSINKI).astimezone(UTC)
    await bot.components.dispatcher.tick()
    assert len(fake.cards(chat(MEMBER_A))) == invited
    clock.current = datetime(2026, 11, 26, 12, 1, tzinfo=HELSINKI).astimezone(UTC)
    await bot.components.dispatcher.tick()
    nudge = fake.cards(chat(MEMBER_A))[-1]
    assert len(fake.cards(chat(MEMBER_A))) == invited + 1
    assert "poll.vote" in actions(nudge)

    # At the deadline the coordinator is asked to decide.
    clock.current = datetime(2026, 11, 27, 12, 1, tzinfo=HELSINKI).astimezone(UTC)
    before = len(fake.cards(chat(COORDINATOR)))
    await bot.components.dispatcher.tick()
    assert len(fake.cards(chat(COORDINATOR))) == before + 1
    assert "poll.finalize" in {x["verb"] for x in executes(fake.cards(chat(COORDINATOR))[-1])}
    assert texts(fake.cards(chat(COORDINATOR))[-1])


async def test_only_the_teams_coordinators_run_a_poll_and_nothing_changes_otherwise(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    accepted = await accepted_case(bot, fake, url)
    setup_data = actions(accepted)["poll.setup"]["data"]
    refused = await bot.invoke(a.execute(url, MEMBER_A, "poll.setup", setup_data))
    assert refused["type"] == "application/vnd.microsoft.activity.message"

    setup_card = await click(bot, url, COORDINATOR, accepted, "poll.setup")
    a_id = await member_id(bot, MEMBER_A)
    overview = await click(
        bot,
        url,
        COORDINATOR,
        setup_card,
        "poll.open",
        slot1_date="2026-11-30",
        slot1_time="13:00",
        slot1_minutes="60",
        invitees=str(a_id),
        required=str(a_id),
        deadline_date="2026-11-27",
        deadline_time="12:00",
        place="",
    )
    finalize = next(x for x in executes(overview) if x["verb"] == "poll.finalize")
    for user, verb in ((MEMBER_A, "poll.finalize"), (REQUESTER, "poll.cancel")):
        body = await bot.invoke(a.execute(url, user, verb, finalize["data"]))
        assert body["type"] == "application/vnd.microsoft.activity.message", (user, verb)
    async with bot.components.engine.connect() as connection:
        status = (await connection.execute(select(consultations.c.status))).scalar_one()
    assert status == CaseStatus.SCHEDULING.value


async def test_a_mistake_in_the_proposed_times_shows_the_card_again_with_what_to_fix(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    accepted = await accepted_case(bot, fake, url)
    setup_card = await click(bot, url, COORDINATOR, accepted, "poll.setup")
    a_id = await member_id(bot, MEMBER_A)
    # Saturday is no working day.
    again = await click(
        bot,
        url,
        COORDINATOR,
        setup_card,
        "poll.open",
        slot1_date="2026-11-28",
        slot1_time="10:00",
        slot1_minutes="60",
        invitees=str(a_id),
        required="",
        deadline_date="2026-11-27",
        deadline_time="12:00",
        place="",
    )
    assert "poll.open" in actions(again)
    assert texts_for("fi-FI")("error.slot_not_working_day") in texts(again)
    assert inputs(again)["slot1_date"].get("value") == "2026-11-28"
    async with bot.components.engine.connect() as connection:
        status = (await connection.execute(select(consultations.c.status))).scalar_one()
    assert status == CaseStatus.ACCEPTED.value


async def test_the_coordinator_sets_the_teams_regular_times_and_they_are_suggested(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    accepted = await accepted_case(bot, fake, url)

    await bot.post(a.text(url, COORDINATOR, "asetukset"))
    settings = fake.cards(chat(COORDINATOR))[-1]
    assert {"regular1_day", "regular1_time", "show_tallies"} <= set(inputs(settings))
    # A member who is not a coordinator cannot change them, whatever the card says.
    refused = await bot.invoke(
        a.execute(
            url,
            MEMBER_A,
            "team.settings.save",
            {**actions(settings)["team.settings.save"]["data"], "regular1_day": "0"},
        )
    )
    assert refused["type"] == "application/vnd.microsoft.activity.message"
    saved = await click(
        bot,
        url,
        COORDINATOR,
        settings,
        "team.settings.save",
        regular1_day="4",
        regular1_time="10:30",
        regular2_day="",
        regular2_time="",
        regular3_day="",
        regular3_time="",
        show_tallies="false",
    )
    assert "Asetukset tallennettu." in texts(saved)

    setup_card = await click(bot, url, COORDINATOR, accepted, "poll.setup")
    # Friday 27.11.2026 10:30 is the first regular time after Monday 23.11.
    assert inputs(setup_card)["slot1_date"]["value"] == "2026-11-27"
    assert inputs(setup_card)["slot1_time"]["value"] == "10:30"

    # With tallies hidden, an invitee's card shows their own answers only.
    a_id = await member_id(bot, MEMBER_A)
    await click(
        bot,
        url,
        COORDINATOR,
        setup_card,
        "poll.open",
        slot1_date=inputs(setup_card)["slot1_date"]["value"],
        slot1_time=inputs(setup_card)["slot1_time"]["value"],
        slot1_minutes="60",
        invitees=str(a_id),
        required="",
        deadline_date="2026-11-26",
        deadline_time="12:00",
        place="",
    )
    await bot.components.dispatcher.tick()
    vote = fake.cards(chat(MEMBER_A))[-1]
    assert texts_for("fi-FI")("poll.tally", yes=0, if_need_be=0, no=0) not in texts(vote)


async def test_cards_of_a_fixed_meeting_show_it_and_a_stale_vote_card_closes_itself(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock)
    fi = texts_for("fi-FI")
    accepted = await accepted_case(bot, fake, url)
    overview = await open_thursday_poll(bot, url, accepted)
    # Nobody has answered: no warnings, the card says whose answers it waits for.
    red = [n["text"] for n in find(overview, lambda n: n.get("color") == "Attention")]
    assert red == []
    assert fi("poll.overview.waiting") in texts(overview)
    assert fi("poll.overview.nobody_yet", names="Olli Ulkopuolinen, Liisa Lääkäri") in texts(
        overview
    )
    assert "to 26.11. klo 13.00–14.00" in texts(overview)  # the slot, with its weekday
    assert "ke 25.11. klo 12.00" in texts(overview)  # the deadline, written the same way

    await bot.components.dispatcher.tick()
    vote_a, vote_b = fake.cards(chat(MEMBER_A))[-1], fake.cards(chat(MEMBER_B))[-1]
    assert vote_b["refresh"]["userIds"] == [MEMBER_B["id"]]
    slot = next(k for k in inputs(vote_a) if k.startswith("slot_"))
    await click(bot, url, MEMBER_A, vote_a, "poll.vote", **{slot: "yes"})
    await click(bot, url, MEMBER_B, vote_b, "poll.vote", **{slot: "yes"})
    choose = next(x for x in executes(overview) if x["verb"] == "poll.finalize")
    await bot.invoke(a.execute(url, COORDINATOR, "poll.finalize", choose["data"]))
    await bot.components.dispatcher.tick()

    # B opens the chat: Teams asks for the vote card as it is now, and it is closed.
    refresh = a.execute(
        url, MEMBER_B, vote_b["refresh"]["action"]["verb"], vote_b["refresh"]["action"]["data"]
    )
    refresh["value"]["trigger"] = "automatic"
    current = await bot.invoke(refresh)
    assert current["type"] == "application/vnd.microsoft.card.adaptive", current
    assert inputs(current["value"]) == {} and "poll.vote" not in actions(current["value"])
    assert fi("poll.outcome.finalized", slot="to 26.11. klo 13.00–14.00") in texts(current["value"])
    # A click on the stale card is refused as a refusal: red, on the closed card.
    late = await bot.invoke(
        a.execute(url, MEMBER_B, "poll.vote", {**actions(vote_b)["poll.vote"]["data"], slot: "no"})
    )
    assert late["type"] == "application/vnd.microsoft.card.adaptive", late
    refusals = find(late["value"], lambda n: n.get("color") == "Attention")
    assert [n["text"] for n in refusals] == [fi("error.poll_closed")]
    assert not find(
        late["value"], lambda n: n.get("color") == "Good" and n["text"] == fi("error.poll_closed")
    )

    # The requester's `omat` shows when and where the meeting is.
    await bot.post(a.text(url, REQUESTER, "omat"))
    mine = texts(fake.cards(chat(REQUESTER))[-1])
    assert "to 26.11. klo 13.00–14.00" in mine and "Neuvotteluhuone Kuusi" in mine
    assert "kalenterikutsusta" not in mine
