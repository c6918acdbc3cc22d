"""Choosing the language in Microsoft 365 Agents Playground 0.2.28, which always says en-US
(issue 15): Alex Wilber types `kieli sv` and from then on reads Swedish, the cards the
bot sends on its own included; `kieli` shows the choice, and "Same as in Teams" on it
brings English back from the very next message.

Alex installs the bot in "My Team", becomes its coordinator and files a request to the
team: the triage card Alex gets as coordinator and the decision Alex gets as requester
are proactive messages (the outbox, driven by `dispatcher.tick()`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.i18n import texts_for
from storage.tables import users
from tests.e2e.playground import BotMessage
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground import stack as stack  # the fixture, re-exported
from tests.e2e.test_playground_intake import _install_and_claim
from tests.support.cards import actions, inputs, texts

pytestmark = pytest.mark.playground

HELSINKI = ZoneInfo("Europe/Helsinki")
CARD = "application/vnd.microsoft.card.adaptive"
SV, EN = texts_for("sv"), texts_for("en")
# Texts from bot/i18n/locales/{sv,en}/LC_MESSAGES/*.po, spelled out: what Alex reads.
SV_LANGUAGE_TITLE = "Språk"
SV_SAVED = "Från och med nu skriver jag till dig på svenska."
SV_HELP_TITLE = "Työkykytiimi – hjälp"
SV_FORM_TITLE = "Konsultationsbegäran till arbetsförmågeteamet"
EN_HELP_TITLE = "Työkykytiimi – help"
EN_FOLLOWING = "From now on I will write to you in the language of your Teams."


def _case_number() -> str:
    return f"TK-{datetime.now(HELSINKI).year}-0001"


def _title(card: dict[str, Any] | None) -> str:
    assert card is not None
    return str(card["body"][0]["text"])


def _card_in(conversation_id: str, title: str = "") -> Any:
    def predicate(m: BotMessage) -> bool:
        return (
            m.action == "createMessage"
            and m.conversation_id == conversation_id
            and m.card is not None
            and (not title or _title(m.card) == title)
        )

    return predicate


class Alex:
    """The Playground's current user in their personal chat, as the web page would act."""

    def __init__(self, stack: Stack) -> None:
        self.pg = stack.pg
        self.chat = stack.pg.personal_chat_id

    async def say(self, text: str) -> BotMessage:
        mark = self.pg.mark()
        await self.pg.send_text(self.chat, text)
        return await self.pg.wait_for_message(_card_in(self.chat), start=mark)

    async def click(
        self, message_id: str, card: dict[str, Any], verb: str, **typed: Any
    ) -> dict[str, Any]:
        data = {**actions(card)[verb]["data"], **typed}
        answer = await self.pg.invoke_action(
            self.chat, message_id, {"type": "Action.Execute", "verb": verb, "data": data}
        )
        assert answer["type"] == CARD, answer
        return answer["value"]  # type: ignore[no-any-return]

    async def delivered(self, title: str, mark: int) -> BotMessage:
        return await self.pg.wait_for_message(_card_in(self.chat, title), start=mark)


async def test_swedish_chosen_in_the_playground_is_what_the_bot_writes_proactive_included(
    stack: Stack,
) -> None:
    assert (SV("language.title"), SV("language.saved"), SV("help.title")) == (
        SV_LANGUAGE_TITLE,
        SV_SAVED,
        SV_HELP_TITLE,
    )
    assert (SV("request.title"), EN("language.following")) == (SV_FORM_TITLE, EN_FOLLOWING)
    await _install_and_claim(stack)
    alex = Alex(stack)
    dispatcher = stack.components.dispatcher
    number = _case_number()

    # The Playground says en-US; Alex asks for Swedish and gets it from this answer on.
    chosen = await alex.say("kieli sv")
    assert _title(chosen.card) == SV_LANGUAGE_TITLE and SV_SAVED in texts(chosen.card)
    assert _title((await alex.say("apua")).card) == SV_HELP_TITLE

    # Alex files a request to the team Alex coordinates: every page in Swedish.
    form = await alex.say("uusi")
    assert form.card is not None and _title(form.card) == SV_FORM_TITLE
    team = inputs(form.card)["team_id"]["choices"][0]["value"]
    consent_date = (datetime.now(HELSINKI).date() - timedelta(days=2)).isoformat()
    page = form.card
    for typed in (
        {
            "team_id": team,
            "client_reference": "AV-1980",
            "consent": "obtained",
            "consent_date": consent_date,
            "urgency": "normal",
        },
        {"question": "Hur kan klienten återgå till arbetet?", "situation": "", "history": ""},
        {"self_rating": "5", "goals": "Deltidsarbete"},
        {"services": "kela", "barriers": "person.pain"},
        {"professions": "physician", "client_attends": "yes"},
    ):
        page = await alex.click(form.message_id, page, "request.next", **typed)
        assert _title(page) == SV_FORM_TITLE, texts(page)
    sent = await alex.click(form.message_id, page, "request.submit")
    assert _title(sent) == SV("request.submitted.title", case_number=number)

    # Proactive: the triage card to Alex the coordinator, in Swedish.
    mark = alex.pg.mark()
    await dispatcher.tick()
    triage = await alex.delivered(SV("triage.title.new", case_number=number), mark)
    assert triage.card is not None
    await alex.click(triage.message_id, triage.card, "triage.accept")
    # Proactive: the decision to Alex the requester, in Swedish.
    mark = alex.pg.mark()
    await dispatcher.tick()
    decided = await alex.delivered(SV("decision.accepted.title", case_number=number), mark)
    assert SV("decision.accepted.body", case_number=number) in texts(decided.card)

    # `kieli` alone shows the choice, Swedish ticked; "Same as in Teams" is English again,
    # and the next thing Alex types is answered in English at once.
    choice = await alex.say("kieli")
    assert choice.card is not None and _title(choice.card) == SV_LANGUAGE_TITLE
    assert inputs(choice.card)["language"]["value"] == "sv"
    following = await alex.click(choice.message_id, choice.card, "language.set", language="teams")
    assert EN_FOLLOWING in texts(following)
    assert _title((await alex.say("hjälp")).card) == EN_HELP_TITLE

    async with stack.components.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(users.c.language, users.c.locale).where(
                    users.c.teams_user_id == alex.pg.current_user["id"]
                )
            )
        ).one()
    assert tuple(stored) == (None, "en-US")
