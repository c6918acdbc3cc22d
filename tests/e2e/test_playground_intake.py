"""A consultation request in Finnish, end to end through the real app and Microsoft 365 Agents
Playground 0.2.28: filed through the cards, triaged, questioned, answered, accepted.

Who is who in the Playground's built-in tenant:

* Alex Wilber (``user-id-0``, the Playground's current user, ``en-US``) installs the bot in
  "My Team" and claims the coordinator role from the greeting card. Everything Alex does goes
  through the Playground's own API (``invoke``), and the bot's cards to Alex arrive as
  conversation frames in Alex's personal chat, as a Teams client would show them.
* Megan Bowen (``user-id-1``, ``fi-FI``) is the requester. The Playground only lets the
  current user act in *its* personal chat and hard-codes ``en-US`` in everything it
  generates, so Megan's messages and Action.Execute invokes are custom activities in her own
  1:1 chat with the bot (opened through the mock connector, exactly as the bot opens it for
  a proactive message). The Playground answers a custom activity before the bot has run,
  so the invoke response is not in the HTTP answer; its inspector log (``/_ws/log/stream``,
  ``Playground.outgoing()``) records it, though, and also every card the bot posts into a
  chat without the current user (no conversation frames exist for those). Replies in the
  turn name their conversation in the body; a proactive post names it only in the URL,
  which the log leaves out, so those are matched by the message id the bot's outbox
  recorded for Megan's chat.

Megan's card actions are Action.Execute invokes throughout, not the Action.Submit fallback:
the invoke response can be read, so the Universal Actions path is the one tested.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from consultations.consultation import CaseStatus
from consultations.privacy import contains_identity_code
from storage.tables import consultations, outbox
from tests.e2e.playground import BotMessage, Playground
from tests.e2e.test_playground import Stack
from tests.e2e.test_playground import stack as stack  # the fixture, re-exported
from tests.support.cards import actions, inputs, texts

pytestmark = pytest.mark.playground

HELSINKI = ZoneInfo("Europe/Helsinki")
COORDINATOR = "user-id-0"  # Alex Wilber, the current user and the installer
REQUESTER = "user-id-1"  # Megan Bowen
FINNISH = "fi-FI"
CARD = "application/vnd.microsoft.card.adaptive"
BOT_APP = "User Application"  # the inspector log's name for the bot
IDENTITY_CODE = "131052-308T"

QUESTION = "Miten tukea asiakkaan paluuta työelämään pitkän sairausloman jälkeen?"
ASKED = "Onko työterveyshuolto mukana?"
ANSWER = "Ei ole, työsuhde päättyi keväällä."

# Texts from bot/i18n/locales/fi/LC_MESSAGES/messages.po, spelled out: they are what Megan sees.
FI_FORM_TITLE = "Konsultaatiopyyntö työkykytiimille"
FI_MY_TITLE = "Omat pyyntöni"
FI_ACCEPTED = "Hyväksytty"
FI_RATING_REFUSED = (
    "Asiakkaan oma arvio työkyvystään (0–10): Oman arvion pitää olla kokonaisluku 0–10."
)
FI_IDENTITY_CODE_IN_QUESTION = (
    "Kentässä ”Konsultaatiokysymys (pakollinen)” näyttää olevan henkilötunnus, joten sivua ei "
    "tallennettu ja kenttä tyhjennettiin."
)


def _expected_case_number() -> str:
    # Case numbers count per year in Helsinki time.
    return f"TK-{datetime.now(HELSINKI).year}-0001"


@dataclass
class Posted:
    """A card the bot posted into a chat, read from the Playground's inspector log."""

    message_id: str
    card: dict[str, Any]


@dataclass
class ChatUser:
    """A mocked user other than the current one, acting in their own 1:1 chat with the bot.

    Messages and Action.Execute invokes are custom activities with the user's locale; the
    bot's posts and invoke responses are read from the inspector log.
    """

    pg: Playground
    user_id: str
    chat: str
    locale: str = FINNISH

    @classmethod
    async def open(cls, pg: Playground, user_id: str) -> ChatUser:
        # What Teams has once the user has the app: a 1:1 chat with the bot. The mock
        # connector's create-conversation is idempotent per member, so the bot's own
        # proactive messages to this user land in the same chat.
        async with pg.session.post(
            pg.base_url + "/_connector/v3/conversations",
            json={
                "bot": {"id": pg.bot["id"]},
                "members": [{"id": user_id}],
                "isGroup": False,
                "tenantId": pg.tenant_id,
            },
        ) as response:
            assert response.status == 201, await response.text()
            chat = str((await response.json())["id"])
        return cls(pg, user_id, chat)

    def _is_bot_post(self, entry: dict[str, Any]) -> bool:
        body = entry.get("request", {}).get("body") or {}
        return (
            entry.get("activityName") == "message"
            and entry.get("from") == BOT_APP
            and entry.get("conversationId") == self.chat
            and isinstance(body, dict)
            and (body.get("from") or {}).get("id") == self.pg.bot["id"]
        )

    def posted_since(self, mark: int) -> list[dict[str, Any]]:
        """The activities the bot posted into this chat (the log's request bodies)."""
        return [e["request"]["body"] for e in self.pg.outgoing()[mark:] if self._is_bot_post(e)]

    async def next_post(self, mark: int, timeout: float = 10.0) -> dict[str, Any]:
        """The first activity the bot posts into this chat after ``mark``."""
        entry = await self.pg.wait_for_outgoing(self._is_bot_post, timeout, start=mark)
        return {**entry["request"]["body"], "id": str(entry["response"]["body"]["id"])}

    async def deliveries(
        self, stack: Stack, mark: int, count: int, timeout: float = 10.0
    ) -> list[Posted]:
        """The first `count` cards the bot's outbox delivered to this user after ``mark``.

        A proactive post names its conversation only in the URL, which the inspector log
        leaves out (its entry has no ``conversationId``). So the outbox tells which message
        ids went to this chat, and the log shows what the Playground accepted under that id.
        """
        async with stack.components.engine.connect() as connection:
            rows = await connection.execute(
                select(outbox.c.sent_activity_id).where(
                    outbox.c.conversation_id == self.chat, outbox.c.status == "sent"
                )
            )
            sent_here = {str(r.sent_activity_id) for r in rows}

        def is_delivery(entry: dict[str, Any]) -> bool:
            return (
                entry.get("activityName") == "message"
                and entry.get("from") == BOT_APP
                and entry.get("messageId") in sent_here
                and (entry.get("response") or {}).get("statusCode") == 201
            )

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found := [e for e in self.pg.outgoing()[mark:] if is_delivery(e)]) < count:
            assert loop.time() < deadline, f"{len(found)} of {count} cards reached {self.user_id}"
            await asyncio.sleep(0.05)
        posted = []
        for entry in found[:count]:
            attachments = entry["request"]["body"].get("attachments") or []
            assert len(attachments) == 1 and attachments[0]["contentType"] == CARD, entry
            posted.append(Posted(str(entry["messageId"]), attachments[0]["content"]))
        return posted

    async def delivered_card(self, stack: Stack, mark: int, timeout: float = 10.0) -> Posted:
        """The card the bot's outbox delivered to this user after ``mark``."""
        return (await self.deliveries(stack, mark, 1, timeout))[0]

    async def say(self, text: str) -> dict[str, Any]:
        """Type ``text``; return the bot's reply."""
        mark = self.pg.outgoing_mark()
        await self.pg.send_text(self.chat, text, from_id=self.user_id, locale=self.locale)
        return await self.next_post(mark)

    async def execute(
        self, posted: Posted, verb: str, data: dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Click the Action.Execute ``verb`` of ``posted`` with ``fields`` typed into its
        inputs; return the invoke response body (``statusCode``, ``type``, ``value``)."""
        action = actions(posted.card)[verb]
        activity = self.pg.build_activity(
            self.chat,
            "invoke",
            from_id=self.user_id,
            locale=self.locale,
            name="adaptiveCard/action",
            replyToId=posted.message_id,
            value={
                "action": {
                    "type": "Action.Execute",
                    "verb": verb,
                    "data": {**action["data"], **(data or {}), **fields},
                },
                "trigger": "manual",
            },
        )
        mark = self.pg.outgoing_mark()
        await self.pg.custom_activity(activity)

        def is_response(entry: dict[str, Any]) -> bool:
            return (
                entry.get("activityName") == "invoke"
                and entry.get("messageId") == activity["id"]
                and isinstance((entry.get("response") or {}).get("body"), dict)
            )

        entry = await self.pg.wait_for_outgoing(is_response, start=mark)
        assert entry["response"]["statusCode"] == 200, entry["response"]
        body: dict[str, Any] = entry["response"]["body"]
        return body

    async def click(self, posted: Posted, verb: str, **fields: Any) -> Posted:
        """Click ``verb``; the returned card replaces the clicked one (same message)."""
        body = await self.execute(posted, verb, **fields)
        assert body["type"] == CARD, body
        return Posted(posted.message_id, body["value"])


def _card_in(conversation_id: str, contains: str) -> Callable[[BotMessage], bool]:
    def predicate(m: BotMessage) -> bool:
        return (
            m.action == "createMessage"
            and m.conversation_id == conversation_id
            and m.card is not None
            and contains in texts(m.card)
        )

    return predicate


def _execute_action(card: dict[str, Any], verb: str, **fields: Any) -> dict[str, Any]:
    """What a Teams client puts in ``value.action`` for the current user's click."""
    action = actions(card)[verb]
    return {"type": "Action.Execute", "verb": verb, "data": {**action["data"], **fields}}


async def _install_and_claim(stack: Stack) -> None:
    """Alex installs the bot in the team and becomes its coordinator from the greeting."""
    pg = stack.pg
    mark = pg.mark()
    await pg.install(pg.team_id)
    greeting = await pg.wait_for_message(
        lambda m: (
            m.root_conversation_id == pg.team_id
            and m.card is not None
            and "role.claim" in actions(m.card)
        ),
        start=mark,
    )
    assert greeting.card is not None and greeting.post_conversation_id is not None
    claimed = await pg.invoke_action(
        greeting.post_conversation_id,
        greeting.message_id,
        _execute_action(greeting.card, "role.claim"),
        from_id=COORDINATOR,
    )
    assert claimed["type"] == CARD and "role.claim" not in actions(claimed["value"]), claimed


async def _basics(megan: ChatUser) -> Posted:
    """Megan types "uusi" and fills in the first page; returns the question page."""
    reply = await megan.say("uusi")
    first = Posted(reply["id"], reply["attachments"][0]["content"])
    assert FI_FORM_TITLE in texts(first.card)
    team_choices = inputs(first.card)["team_id"]["choices"]
    assert [c["title"] for c in team_choices] == ["My Team"]
    consent_date = (datetime.now(HELSINKI).date() - timedelta(days=2)).isoformat()
    page = await megan.click(
        first,
        "request.next",
        team_id=team_choices[0]["value"],
        client_reference="RP-1978",
        consent="obtained",
        consent_date=consent_date,
        urgency="normal",
    )
    assert "question" in inputs(page.card), texts(page.card)
    return page


async def test_a_finnish_request_goes_from_the_cards_to_an_accepted_case(stack: Stack) -> None:
    pg = stack.pg
    dispatcher = stack.components.dispatcher
    case_number = _expected_case_number()
    await _install_and_claim(stack)
    alex_chat = pg.personal_chat_id
    megan = await ChatUser.open(pg, REQUESTER)

    # Megan files the request page by page, in Finnish.
    page = await _basics(megan)
    page = await megan.click(
        page,
        "request.next",
        question=QUESTION,
        situation="Sairauslomaa 9 kk, TE-asiakkuus.",
        history="",
    )
    assert "self_rating" in inputs(page.card), texts(page.card)
    # A rating of 12 is not made 10: the page says so and keeps what else was typed.
    twelve = await megan.click(page, "request.next", self_rating="12", goals="Osa-aikatyö")
    assert "self_rating" in inputs(twelve.card)
    assert FI_RATING_REFUSED in texts(twelve.card)
    assert inputs(twelve.card)["goals"]["value"] == "Osa-aikatyö"
    page = await megan.click(twelve, "request.next", self_rating="4", goals="Osa-aikatyö")
    page = await megan.click(
        page, "request.next", services="kela,employment_services", barriers="person.pain"
    )
    review = await megan.click(
        page, "request.next", professions="physician,social_worker", client_attends="yes"
    )
    assert "request.submit" in actions(review.card), texts(review.card)
    assert "RP-1978" in texts(review.card) and QUESTION in texts(review.card)
    submitted = await megan.click(review, "request.submit")
    assert f"Pyyntö {case_number} lähetetty" in texts(submitted.card)

    # Alex, the coordinator, gets the triage card in the personal chat and asks a question.
    mark = pg.mark()
    await dispatcher.tick()
    triage = await pg.wait_for_message(_card_in(alex_chat, case_number), start=mark)
    assert triage.card is not None
    assert QUESTION in texts(triage.card) and "Megan Bowen" in texts(triage.card)
    asked = await pg.invoke_action(
        alex_chat,
        triage.message_id,
        _execute_action(triage.card, "triage.ask", question=ASKED),
        from_id=COORDINATOR,
    )
    assert asked["type"] == CARD, asked
    assert "triage.ask" not in actions(asked["value"])

    # Megan gets the question in her chat and answers it.
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    question = await megan.delivered_card(stack, mark)
    assert ASKED in texts(question.card) and case_number in texts(question.card)
    answered = await megan.click(question, "request.answer", answer=ANSWER)
    assert "request.answer" not in actions(answered.card)
    assert "Vastauksesi on lähetetty koordinaattorille." in texts(answered.card)
    # The answered card shows the question and the answer sent, not a dash.
    shown = [b.get("text") for b in answered.card["body"]]
    assert shown[2:6] == ["**Koordinaattorin kysymys**", ASKED, "**Vastauksesi**", ANSWER]

    # The case returns to Alex with the answer; Alex accepts it.
    mark = pg.mark()
    await dispatcher.tick()
    again = await pg.wait_for_message(_card_in(alex_chat, ANSWER), start=mark)
    assert again.card is not None and case_number in texts(again.card)
    # Headed as the answer it is, the answer first (in Alex's English).
    head = [b.get("text") for b in again.card["body"][:3]]
    assert head == [
        f"Answer from the requester: {case_number}",
        "**The requester's answer**",
        ANSWER,
    ]
    accepted = await pg.invoke_action(
        alex_chat,
        again.message_id,
        _execute_action(again.card, "triage.accept"),
        from_id=COORDINATOR,
    )
    assert accepted["type"] == CARD, accepted
    assert "triage.accept" not in actions(accepted["value"])

    # Megan is told, and `omat` shows the case as accepted, in Finnish.
    mark = pg.outgoing_mark()
    await dispatcher.tick()
    decision = await megan.delivered_card(stack, mark)
    assert f"Pyyntö {case_number} hyväksytty" in texts(decision.card)
    mine = await megan.say("omat")
    mine_card = mine["attachments"][0]["content"]
    assert FI_MY_TITLE in texts(mine_card)
    # One line per case: "**<case number> ...** · <status>".
    status_lines = [line for line in texts(mine_card).splitlines() if case_number in line]
    assert len(status_lines) == 1 and status_lines[0].endswith(f"· {FI_ACCEPTED}"), status_lines

    async with stack.components.engine.connect() as connection:
        rows = (
            await connection.execute(select(consultations.c.case_number, consultations.c.status))
        ).all()
    assert [tuple(r) for r in rows] == [(case_number, CaseStatus.ACCEPTED.value)]


async def test_an_identity_code_is_refused_by_naming_its_field_keeping_the_rest_storing_nothing(
    stack: Stack,
) -> None:
    assert contains_identity_code(IDENTITY_CODE)  # a valid code, or the test proves nothing
    pg = stack.pg
    await _install_and_claim(stack)
    megan = await ChatUser.open(pg, REQUESTER)
    page = await _basics(megan)

    mark = pg.outgoing_mark()
    refused = await megan.execute(
        page,
        "request.next",
        question=f"Asiakas {IDENTITY_CODE} tarvitsee apua paluuseen työhön",
        situation="Sairauslomaa 9 kk.",
        history="Fysioterapiaa 2025.",
    )
    # The same page answers, in Finnish: the field that held the code is named and
    # emptied, everything else Megan typed is still there; the code is not echoed.
    assert refused["type"] == CARD, refused
    again = refused["value"]
    assert FI_IDENTITY_CODE_IN_QUESTION in texts(again)
    assert inputs(again)["question"]["value"] == ""
    assert inputs(again)["situation"]["value"] == "Sairauslomaa 9 kk."
    assert inputs(again)["history"]["value"] == "Fysioterapiaa 2025."
    assert IDENTITY_CODE not in str(again)
    # Nothing new was posted into the chat.
    await asyncio.sleep(0.3)
    assert megan.posted_since(mark) == []

    # Let the turns finish and the engine close before looking at the files.
    await asyncio.wait_for(stack.stop_bot(), 30)
    files = sorted(stack.db_path.parent.glob(stack.db_path.name + "*"))
    assert files and files[0] == stack.db_path
    stored = stack.database_bytes()
    assert b"RP-1978" in stored  # the draft of the first page is there, and readable
    for form in (IDENTITY_CODE, IDENTITY_CODE.lower(), IDENTITY_CODE.replace("-", "")):
        assert form.encode() not in stored, form
    assert not re.search(rb"131052.?308T", stored, re.IGNORECASE)
