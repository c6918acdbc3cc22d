"""A newcomer's first steps in the Agents Playground (0.2.28), as Alex Wilber (the
Playground's current user, en-US) would take them: greeted, told to add the bot to a team
before asking for anything, then starting, leaving and deleting drafts.

Everything goes through the Playground's own API: the install, typed messages and
Action.Execute invokes whose responses are the cards the Playground shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from storage.tables import consultations
from tests.e2e.playground import BotMessage
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground import stack as stack  # the fixture, re-exported
from tests.support.cards import actions, executes, inputs, texts

pytestmark = pytest.mark.playground

HELSINKI = ZoneInfo("Europe/Helsinki")
CARD = "application/vnd.microsoft.card.adaptive"
# Texts from bot/i18n/locales/en/LC_MESSAGES/messages.po, spelled out: what Alex sees.
EN_WELCOME = "Welcome!"
EN_NO_TEAMS = "The bot is not in any team yet"
EN_FORM_TITLE = "Consultation request to the work ability team"
EN_NOT_SAVED = "Request not saved"
EN_DRAFTS = "Drafts"
EN_NO_DRAFTS = "You have no unfinished requests."
EN_DELETE = "Delete draft"
EN_KEEP = "Keep the draft"


def _card_in(conversation_id: str) -> Any:
    def predicate(m: BotMessage) -> bool:
        return (
            m.action == "createMessage"
            and m.conversation_id == conversation_id
            and m.card is not None
        )

    return predicate


async def _say(stack: Stack, text: str) -> BotMessage:
    pg = stack.pg
    mark = pg.mark()
    await pg.send_text(pg.personal_chat_id, text)
    return await pg.wait_for_message(_card_in(pg.personal_chat_id), start=mark)


async def _click(
    stack: Stack, message_id: str, card: dict[str, Any], verb: str, **typed: Any
) -> dict[str, Any]:
    pg = stack.pg
    action = actions(card)[verb]
    answer = await pg.invoke_action(
        pg.personal_chat_id,
        message_id,
        {"type": "Action.Execute", "verb": verb, "data": {**action["data"], **typed}},
    )
    assert answer["type"] == CARD, answer
    return answer["value"]  # type: ignore[no-any-return]


async def _drafts_stored(stack: Stack) -> int:
    async with stack.components.engine.connect() as connection:
        return int(
            (
                await connection.execute(
                    select(func.count()).where(consultations.c.status == "draft")
                )
            ).scalar_one()
        )


async def test_a_newcomer_is_greeted_told_how_to_add_the_bot_and_leaves_no_empty_drafts(
    stack: Stack,
) -> None:
    pg = stack.pg
    chat = pg.personal_chat_id

    # The Playground's installation event has no name: the greeting has none either.
    mark = pg.mark()
    await pg.install(chat)
    greeting = await pg.wait_for_message(_card_in(chat), start=mark)
    assert greeting.card is not None
    assert greeting.card["body"][0]["text"] == EN_WELCOME

    # Before the bot is in any team, "new" says so, and how to add it.
    nowhere = await _say(stack, "new")
    assert nowhere.card is not None
    assert nowhere.card["body"][0]["text"] == EN_NO_TEAMS
    assert "Manage team > Apps" in texts(nowhere.card)
    assert inputs(nowhere.card) == {}

    # Added to the team, "new" opens the form; leaving it stores nothing.
    mark = pg.mark()
    await pg.install(pg.team_id)
    await pg.wait_for_message(lambda m: m.root_conversation_id == pg.team_id, start=mark)
    form = await _say(stack, "new")
    assert form.card is not None and EN_FORM_TITLE in texts(form.card)
    left = await _click(stack, form.message_id, form.card, "request.cancel")
    assert left["body"][0]["text"] == EN_NOT_SAVED
    # Next with nothing in the page: the page again with what it needs, still no draft.
    form = await _say(stack, "new")
    assert form.card is not None
    empty = await _click(stack, form.message_id, form.card, "request.next")
    assert "client_reference" in inputs(empty)
    assert await _drafts_stored(stack) == 0
    no_drafts = await _say(stack, "drafts")
    assert no_drafts.card is not None and EN_NO_DRAFTS in texts(no_drafts.card)

    # Saved with a client reference: one draft, titled by the reference and the day.
    saved = await _click(
        stack,
        form.message_id,
        form.card,
        "request.save",
        team_id=inputs(form.card)["team_id"]["choices"][0]["value"],
        client_reference="AW-1980",
        consent="not_yet",
        urgency="normal",
    )
    assert "request.resume" in actions(saved)
    assert await _drafts_stored(stack) == 1
    drafts = await _say(stack, "drafts")
    assert drafts.card is not None and drafts.card["body"][0]["text"] == EN_DRAFTS
    today = datetime.now(HELSINKI)
    assert f"AW-1980 · started {today.day} {today:%b} {today.year}" in texts(drafts.card)

    # Deleting takes two clicks, each button saying what it does.
    question = await _click(stack, drafts.message_id, drafts.card, "request.delete")
    assert [(x["title"], x["verb"]) for x in executes(question)] == [
        (EN_DELETE, "request.discard"),
        (EN_KEEP, "request.drafts"),
    ]
    assert "AW-1980" in question["body"][0]["text"]
    await _click(stack, drafts.message_id, question, "request.discard")
    assert await _drafts_stored(stack) == 0
