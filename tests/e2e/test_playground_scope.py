"""A request started in the team channel ends up in the requester's personal chat, through
the real app and Microsoft 365 Agents Playground 0.2.28 (issue 12).

Alex Wilber (the Playground's current user, en-US) installs the bot in "My Team", types
`@Työkykytiimi apua` in its General channel and presses "New request" on the help card
there, then types `@Työkykytiimi uusi` in the channel. Everything goes through the
Playground's own API; the bot has never written to Alex's personal chat before, so it
opens it (the Playground's connector answers with the chat it shows Alex).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.i18n import texts_for
from storage.tables import consultations, users
from tests.e2e.playground import BotMessage
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground import stack as stack  # the fixture, re-exported
from tests.e2e.test_playground_intake import _install_and_claim
from tests.support.cards import actions, inputs

pytestmark = pytest.mark.playground

HELSINKI = ZoneInfo("Europe/Helsinki")
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
EN = texts_for("en")
# Texts from bot/i18n/locales/en/LC_MESSAGES/*.po, spelled out: what Alex reads.
EN_POINTER = "I sent this to you in our private chat, as it may contain client details."
EN_FORM_TITLE = "Consultation request to the work ability team"
EN_HELP_TITLE = "Työkykytiimi – help"
CLIENT_REFERENCE = "Tammela-81"


def _in(conversation_id: str, *, card: str = "", text: str = "") -> Any:
    def predicate(m: BotMessage) -> bool:
        if m.action != "createMessage" or m.root_conversation_id != conversation_id:
            return False
        if card:
            return m.card is not None and m.card["body"][0].get("text") == card
        return m.text == text

    return predicate


async def test_a_request_started_in_the_channel_goes_on_in_the_personal_chat(stack: Stack) -> None:
    assert (EN("scope.sent_privately"), EN("request.title")) == (EN_POINTER, EN_FORM_TITLE)
    pg = stack.pg
    await _install_and_claim(stack)
    channel, personal = pg.team_id, pg.personal_chat_id

    # `apua` in the channel: the help card is for everyone, so it answers there.
    mark = pg.mark()
    await pg.send_text(channel, "apua", mention_bot=True)
    help_card = await pg.wait_for_message(_in(channel, card=EN_HELP_TITLE), start=mark)
    assert help_card.card is not None and "request.new" in actions(help_card.card)

    # "New request" on it: the channel's answer is the pointer; the form goes to Alex alone.
    mark = pg.mark()
    pressed = await pg.invoke_action(
        help_card.conversation_id,
        help_card.message_id,
        {"type": "Action.Execute", "verb": "request.new", "data": {}},
    )
    assert pressed == {"type": MESSAGE, "value": EN_POINTER}
    form = await pg.wait_for_message(_in(personal, card=EN_FORM_TITLE), start=mark)
    assert form.card is not None and "client_reference" in inputs(form.card)

    # `uusi` typed in the channel: a pointer in the thread, the form in the personal chat.
    mark = pg.mark()
    await pg.send_text(channel, "uusi", mention_bot=True)
    await pg.wait_for_message(_in(channel, text=EN_POINTER), start=mark)
    second = await pg.wait_for_message(_in(personal, card=EN_FORM_TITLE), start=mark)
    assert second.card is not None

    # Alex fills the first page in the personal chat: the draft is Alex's, stored as such.
    team = inputs(second.card)["team_id"]["choices"][0]["value"]
    page = await pg.invoke_action(
        personal,
        second.message_id,
        {
            "type": "Action.Execute",
            "verb": "request.next",
            "data": {
                **actions(second.card)["request.next"]["data"],
                "team_id": team,
                "client_reference": CLIENT_REFERENCE,
                "consent": "obtained",
                "consent_date": (datetime.now(HELSINKI).date() - timedelta(days=2)).isoformat(),
                "urgency": "normal",
            },
        },
    )
    assert page["type"] == CARD and "question" in inputs(page["value"]), page

    # Let any late frame arrive, then read the channel as its members would.
    await asyncio.sleep(0.3)
    in_channel = [m for m in pg.messages() if m.root_conversation_id == channel]
    cards = [m.card["body"][0].get("text") for m in in_channel if m.card is not None]
    assert EN_FORM_TITLE not in cards and cards[-1] == EN_HELP_TITLE
    assert [m.text for m in in_channel if m.card is None] == [EN_POINTER]
    assert all(CLIENT_REFERENCE not in str(m.raw) for m in in_channel)

    async with stack.components.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(consultations.c.status, users.c.teams_user_id).join(
                    users, users.c.id == consultations.c.requester_id
                )
            )
        ).all()
        chat = (
            await connection.execute(
                select(users.c.personal_conversation_id).where(
                    users.c.teams_user_id == pg.current_user["id"]
                )
            )
        ).scalar_one()
    assert [tuple(r) for r in stored] == [("draft", pg.current_user["id"])]
    assert chat == personal
