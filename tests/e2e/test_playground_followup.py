"""After the meeting, end to end through the real app and Microsoft 365 Agents Playground
0.2.28: from a finalized poll the coordinator publishes a summary with two
recommendations; the owner marks one done and snoozes the other; the snoozed one
escalates to the coordinator; the case manager hands the role over and the successor
accepts; the case closes with an outcome; the requester answers the feedback card.

The bot's clock is moved forward by the test (``Stack.clock``), never slept; the
dispatcher is ticked by hand. Who is who (see ``test_playground_poll.py``): Alex Wilber is
the coordinator (``en-US``, the Playground's current user), Megan Bowen the requester,
Adele Vance owns the recommendations, Isaiah Langer is the first case manager; they act
through custom activities in their own chats, Megan and Adele in Finnish, Isaiah in
Swedish.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import finnish_calendar
from bot.i18n import texts_for
from consultations.consultation import CaseStatus
from consultations.recommendations import due_reminder_at, escalation_at
from consultations.summary import Owner, Recommendation
from storage.tables import consultations, feedback
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground_intake import (
    CARD,
    COORDINATOR,
    REQUESTER,
    ChatUser,
    Posted,
    _card_in,
    _execute_action,
    _expected_case_number,
    _install_and_claim,
)
from tests.e2e.test_playground_intake import stack as stack  # the fixture, re-exported
from tests.e2e.test_playground_poll import (
    INVITEE,
    REQUIRED,
    _accepted_case,
    _choice_ids,
    _executes,
    _user_id,
    _working_days_after,
)
from tests.support.cards import actions, inputs, texts

pytestmark = pytest.mark.playground

HELSINKI = ZoneInfo("Europe/Helsinki")
EN, FI, SV = texts_for("en-US"), texts_for("fi-FI"), texts_for("sv-SE")
FINDINGS = "Osa-aikatyö onnistuu, kun kipu on hallinnassa."
REC_DONE = "Kipupoliklinikan lähete"
REC_SNOOZED = "Työkokeilu kevyissä tehtävissä"
NOTE = "Työkokeilu jatkuu, olet lähin."


async def _delivered_with(stack: Stack, person: ChatUser, mark: int, verb: str) -> Posted:
    """The first card delivered to this person after `mark` that offers `verb` (other
    reminders may be due at the same tick)."""
    for count in range(1, 6):
        cards = await person.deliveries(stack, mark, count)
        if verb in actions(cards[-1].card):
            return cards[-1]
    raise AssertionError(f"no card with {verb} reached {person.user_id}")


async def _alex(
    stack: Stack, message_id: str, card: dict[str, Any], verb: str, **fields: Any
) -> Posted:
    """Alex clicks `verb` on his card; the refreshed card replaces it."""
    body = await stack.pg.invoke_action(
        stack.pg.personal_chat_id,
        message_id,
        _execute_action(card, verb, **fields),
        from_id=COORDINATOR,
    )
    assert body["type"] == CARD, body
    return Posted(message_id, body["value"])


async def _tick_and_wait_for_alex(stack: Stack, contains: str) -> Posted:
    mark = stack.pg.mark()
    await stack.components.dispatcher.tick()
    message = await stack.pg.wait_for_message(
        _card_in(stack.pg.personal_chat_id, contains), start=mark
    )
    assert message.card is not None
    return Posted(message.message_id, message.card)


async def test_after_the_meeting_through_the_playground(stack: Stack) -> None:
    pg = stack.pg
    clock = stack.clock
    calendar = finnish_calendar()
    dispatcher = stack.components.dispatcher
    case_number = _expected_case_number()
    await _install_and_claim(stack)
    megan = await ChatUser.open(pg, REQUESTER)
    adele = await ChatUser.open(pg, INVITEE)
    isaiah = await ChatUser.open(pg, REQUIRED)
    isaiah.locale = "sv-SE"  # Isaiah's Teams is in Swedish
    triage = await _accepted_case(stack, megan)
    adele_id, isaiah_id = await _user_id(stack, INVITEE), await _user_id(stack, REQUIRED)

    # --- a poll fixes the meeting on the second working day from now ---------------------
    deadline_day, day = _working_days_after(clock.now().astimezone(HELSINKI).date(), calendar, 2)
    setup = await _alex(stack, triage.message_id, triage.card, "poll.setup")
    no_slot = {f"slot{i}_{part}": "" for i in (2, 3, 4) for part in ("date", "time")}
    overview = await _alex(
        stack,
        triage.message_id,
        setup.card,
        "poll.open",
        slot1_date=day.isoformat(),
        slot1_time="09:00",
        slot1_minutes="60",
        **no_slot,
        invitees=f"{adele_id},{isaiah_id}",
        required=str(isaiah_id),
        deadline_date=deadline_day.isoformat(),
        deadline_time="12:00",
        place="Neuvotteluhuone Kuusi",
    )
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    for person in (adele, isaiah):
        (vote,) = await person.deliveries(stack, mark, 1)
        (slot,) = _choice_ids(vote.card)
        await person.click(vote, "poll.vote", **{slot: "yes"})
    (choose,) = _executes(overview.card, "poll.finalize")
    finalized = await pg.invoke_action(
        pg.personal_chat_id,
        triage.message_id,
        {"type": "Action.Execute", "verb": "poll.finalize", "data": choose["data"]},
        from_id=COORDINATOR,
    )
    assert finalized["type"] == CARD, finalized
    await dispatcher.tick()

    # --- as the meeting ends, Alex is asked for the summary -------------------------------
    meeting_end = datetime.combine(day, time(10), tzinfo=HELSINKI)
    clock.move_to(meeting_end + timedelta(minutes=1))
    prompt = await _tick_and_wait_for_alex(
        stack, EN("summary.prompt.title", case_number=case_number)
    )
    editor = await _alex(stack, prompt.message_id, prompt.card, "summary.open")
    assert set(inputs(editor.card)["attendees"]["value"].split(",")) >= {
        str(adele_id),
        str(isaiah_id),
    }
    today = clock.now().astimezone(HELSINKI).date()
    due = today + timedelta(days=7)
    form = {
        "attendees": f"{adele_id},{isaiah_id}",
        "client_attended": "yes",
        "findings": FINDINGS,
        "case_manager": str(isaiah_id),
        "review_date": (today + timedelta(days=90)).isoformat(),
    }
    for text in (REC_DONE, REC_SNOOZED):
        editor = await _alex(
            stack,
            prompt.message_id,
            editor.card,
            "summary.add_rec",
            **form,
            rec_text=text,
            rec_owner=f"user:{adele_id}",
            rec_due=due.isoformat(),
        )
        assert EN("summary.rec.added") in texts(editor.card)
    preview = await _alex(stack, prompt.message_id, editor.card, "summary.preview", **form)
    assert "summary.publish" in actions(preview.card), texts(preview.card)
    published = await _alex(stack, prompt.message_id, preview.card, "summary.publish")
    assert EN("summary.published_notice") in texts(published.card)
    published_at = clock.now()

    # The requester, the case manager and the owner get it in Finnish.
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    for person, language in ((megan, FI), (adele, FI), (isaiah, SV)):
        (summary,) = await person.deliveries(stack, mark, 1)
        shown = texts(summary.card)
        assert language("summary.title", case_number=case_number) in shown
        assert FINDINGS in shown and REC_DONE in shown and REC_SNOOZED in shown
    assert SV("summary.you_are_case_manager") in texts(
        (await isaiah.deliveries(stack, mark, 1))[0].card
    )

    # --- the due date: Adele gets both, marks one done, snoozes the other ----------------
    planned = Recommendation(None, 0, 0, "", Owner(user_id=adele_id), due)
    clock.move_to(due_reminder_at(planned, calendar) + timedelta(minutes=1))
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    cards = await adele.deliveries(stack, mark, 2)
    by_text = {REC_DONE if REC_DONE in texts(c.card) else REC_SNOOZED: c for c in cards}
    assert by_text.keys() == {REC_DONE, REC_SNOOZED}
    assert all(FI("reminder.recommendation_due") in texts(c.card) for c in cards)
    done = await adele.execute(by_text[REC_DONE], "rec.update", {"action": "done"})
    assert done["type"] == CARD and FI("rec.updated.done") in texts(done["value"])
    snoozed = await adele.execute(by_text[REC_SNOOZED], "rec.update", {"action": "snooze_week"})
    assert snoozed["type"] == CARD
    assert FI("rec.updated.snooze_week") in texts(snoozed["value"])

    # --- five working days overdue: the escalation reaches Alex -------------------------
    clock.move_to(escalation_at(planned, calendar) + timedelta(minutes=1))
    escalation = await _tick_and_wait_for_alex(stack, EN("reminder.recommendation_overdue"))
    assert REC_SNOOZED in texts(escalation.card) and REC_DONE not in texts(escalation.card)
    assert "rec.update" in actions(escalation.card), "the coordinator can act on it too"

    # --- Isaiah hands the case manager role over to Adele, who accepts -----------------
    reply = await isaiah.say("klienter")
    cases = Posted(reply["id"], reply["attachments"][0]["content"])
    assert case_number in texts(cases.card) and REC_SNOOZED in texts(cases.card)
    review = await isaiah.click(cases, "case.review")
    proposed = await isaiah.click(review, "handover.propose", successor=str(adele_id), note=NOTE)
    assert SV("handover.proposed_notice") in texts(proposed.card)
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    offer = await _delivered_with(stack, adele, mark, "handover.accept")
    assert NOTE in texts(offer.card)
    accepted = await adele.click(offer, "handover.accept")
    assert FI("handover.accepted_notice") in texts(accepted.card)
    mark = pg.outgoing_mark()
    told = await _tick_and_wait_for_alex(stack, EN("handover.accepted.body", name="Adele Vance"))
    assert case_number in texts(told.card)
    (to_isaiah,) = await isaiah.deliveries(stack, mark, 1)
    assert SV("handover.accepted.body", name="Adele Vance") in texts(to_isaiah.card)

    # --- Adele closes the case with its outcome -----------------------------------------
    reply = await adele.say("asiakkaat")
    review = await adele.click(
        Posted(reply["id"], reply["attachments"][0]["content"]), "case.review"
    )
    closed = await adele.click(review, "case.close", outcome="employment")
    assert FI("review.closed", outcome=FI("outcome.employment")) in texts(closed.card)
    async with stack.components.engine.connect() as connection:
        row = (
            await connection.execute(select(consultations.c.status, consultations.c.outcome))
        ).one()
    assert tuple(row) == (CaseStatus.CLOSED.value, "employment")

    # --- four weeks after the summary, Megan rates the consultation ----------------------
    clock.move_to(
        calendar.next_working_moment(published_at + timedelta(days=28)) + timedelta(minutes=1)
    )
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    request = await _delivered_with(stack, megan, mark, "feedback.give")
    assert FI("feedback.title", case_number=case_number) in texts(request.card)
    thanks = await megan.click(request, "feedback.give", rating="5", comment="Selkeä suunnitelma.")
    assert FI("feedback.thanks") in texts(thanks.card)
    async with stack.components.engine.connect() as connection:
        given = (await connection.execute(select(feedback.c.rating, feedback.c.comment))).one()
    assert tuple(given) == (5, "Selkeä suunnitelma.")
