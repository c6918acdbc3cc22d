"""No client details in a channel or a group chat, ever (SPEC §3, issue 12): every command
of the command table and every card verb the app's flows register, typed or clicked in the
team's channel and in a group chat, end to end through the real app and the loopback Bot
Connector.

The world holds cases whose every free text carries a marker word (tests/e2e/cases.py): a
closed case with its whole life behind it, a request waiting for the requester's answer
and a draft. Whatever the bot sends into a conversation that is not someone's 1:1 chat,
and whatever it answers a click there with, must not hold a marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import texts_for
from dialogs.commands import COMMANDS
from tests.conftest import BotFactory, RunningBot
from tests.e2e.cases import ROSTER, closed_case, submitted
from tests.e2e.test_intake import COORDINATOR, REQUESTER, SteppingClock, chat, click, setup
from tests.e2e.test_poll import MEMBER_B
from tests.e2e.test_retention import everything
from tests.support import activities as a
from tests.support.cards import executes, inputs, texts
from tests.support.connector import LoopbackConnector, Sent

FI = texts_for("fi-FI")
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
# In the roster, never wrote to the bot: the bot has no 1:1 chat with them yet.
NEWCOMER = a.user(7, "Noora Uusitalo")
LATECOMER = a.user(8, "Lauri Myöhänen")
PEOPLE = [*ROSTER, NEWCOMER, LATECOMER]
# One marker word per case; every free text of the case carries its marker.
CLOSED, WAITING, DRAFT = "Kuusama", "Pihlaja", "Haapavesi"
MARKERS = (CLOSED, WAITING, DRAFT)
# Hundreds of turns in a few conversations: Teams' rate limits (which the bot keeps) would
# make the test wait for nothing.
UNLIMITED = {
    "per_conversation_per_second": 10_000.0,
    "per_conversation_per_30s": 100_000,
    "per_tenant_per_second": 10_000.0,
}
SCOPES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "channel": a.in_channel,
    "group chat": a.in_group_chat,
}

# Where each verb may run, decided verb by verb (the reasons are beside `public_verbs` in
# the flows). A new verb is private unless someone decides otherwise here and there.
PUBLIC_VERBS = {
    "help.open",
    "profile.open",
    "profile.save",
    "role.claim",
    "role.grant",
    "role.revoke",
    # "Show more" on the roles card, which is posted where `roolit` was typed.
    "roles.open",
    "team.settings.save",
    "language.open",
    "language.set",
}
REDIRECT_VERBS = {"request.new"}
# Commands answered where they are typed (dialogs/commands.py says why); every other one
# answers there with a pointer and sends its cards to the 1:1 chat.
PUBLIC_COMMANDS = {"help", "language", "profile", "roles", "settings"}


@dataclass
class RecordingBot(RunningBot):
    """The running bot, keeping every card a click in someone's 1:1 chat answered with."""

    answered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def invoke(self, activity: dict[str, Any]) -> dict[str, Any]:
        body = await super().invoke(activity)
        if body.get("type") == CARD and activity["conversation"]["conversationType"] == "personal":
            self.answered.append((activity["conversation"]["id"], body["value"]))
        return body


def personal_chats() -> set[str]:
    return {chat(person) for person in PEOPLE}


def leaked(value: Any) -> list[str]:
    dump = json.dumps(value, ensure_ascii=False)
    return [marker for marker in MARKERS if marker in dump]


def elsewhere(fake: LoopbackConnector) -> list[Sent]:
    """What the bot sent or updated anywhere but in someone's 1:1 chat."""
    return [s for s in [*fake.sent, *fake.updates] if s.conversation_id not in personal_chats()]


async def world(bot: RunningBot, fake: LoopbackConnector, url: str, clock: SteppingClock) -> None:
    """A team with its coordinator (also an admin), a closed case, a request waiting for
    the requester's answer and a draft, each with its marker in every text."""
    await setup(bot, fake, url, PEOPLE)
    await closed_case(bot, fake, url, clock, CLOSED)
    triage = await submitted(bot, fake, url, WAITING)
    await click(bot, url, COORDINATOR, triage, "triage.ask", question=f"Onko {WAITING} töissä?")
    await bot.components.dispatcher.tick()
    await bot.post(a.text(url, REQUESTER, "uusi"))
    form = fake.cards(chat(REQUESTER))[-1]
    await click(
        bot,
        url,
        REQUESTER,
        form,
        "request.next",
        team_id=inputs(form)["team_id"]["choices"][0]["value"],
        client_reference=f"{DRAFT}-80",
        consent="not_yet",
        urgency="normal",
    )


async def user_id(bot: RunningBot, person: dict[str, Any]) -> int:
    async with bot.components.uow_factory() as uow:
        found = await uow.users.by_teams_id(person["id"])
    assert found is not None
    return found.id


def _owner(conversation_id: str) -> dict[str, Any]:
    return next((p for p in PEOPLE if chat(p) == conversation_id), COORDINATOR)


async def harvest(
    bot: RecordingBot, fake: LoopbackConnector, url: str
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """For each verb, a button that carries it on a card someone got in their 1:1 chat (sent,
    or answering a click), the card's inputs filled in as shown: (who got it, what a click
    sends)."""
    for person in (COORDINATOR, REQUESTER, MEMBER_B):
        for spec in COMMANDS:
            await bot.post(a.text(url, person, FI(spec.word_key)))
    await bot.post(a.text(url, COORDINATOR, f"{FI('command.admin')} TK-2026-0001"))
    cards = [
        (sent.conversation_id, attachment["content"])
        for sent in [*fake.sent, *fake.updates]
        if sent.conversation_id in personal_chats()
        for attachment in sent.activity.get("attachments") or []
    ]
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for conversation_id, card in [*cards, *bot.answered]:
        shown = {k: v["value"] for k, v in inputs(card).items() if "value" in v}
        for button in executes(card):
            found.setdefault(
                button["verb"], (_owner(conversation_id), {**shown, **button.get("data", {})})
            )
    return found


async def answer(bot: RunningBot, activity: dict[str, Any]) -> dict[str, Any]:
    body = await bot.invoke(activity)
    assert body.get("type") in (CARD, MESSAGE), body
    return body


async def test_every_verb_from_a_channel_or_group_chat_is_refused_or_shows_no_client_details(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    running = await make_bot(
        clock=clock, admins=frozenset({COORDINATOR["aadObjectId"]}), **UNLIMITED
    )
    bot = RecordingBot(running.client, running.settings)
    await world(bot, fake, url, clock)
    scopes = bot.components.activities.scopes()
    assert {v for v, s in scopes.items() if s == "public"} == PUBLIC_VERBS
    assert {v for v, s in scopes.items() if s == "redirect"} == REDIRECT_VERBS
    buttons = await harvest(bot, fake, url)
    private = sorted(v for v, s in scopes.items() if s == "private")
    assert len(private) > 50, "the flows' verbs, read from the app"
    # The refusal comes before the payload is read; still, most verbs are tried with what
    # a real button of theirs sends (the rest, on cards this world does not reach, empty).
    assert len(set(private) & set(buttons)) > 3 * len(private) // 4
    refused = FI("error.private_only")

    # Private verbs: refused where they were clicked, nothing changed, nothing sent.
    before = await everything(bot)
    sent_before = len(fake.sent) + len(fake.updates)
    for verb in private:
        who, data = buttons.get(verb, (COORDINATOR, {}))
        for scope, move in SCOPES.items():
            body = await answer(bot, move(a.execute(url, who, verb, data)))
            assert body == {"type": MESSAGE, "value": refused, "statusCode": 200}, (verb, scope)
            mark = len(fake.sent)
            await bot.post(move(a.submit(url, who, {**data, "verb": verb}, reply_to="act-1")))
            assert [s.activity.get("text") for s in fake.sent[mark:]] == [refused], (verb, scope)
            assert fake.sent[-1].conversation_id not in personal_chats()
        assert await everything(bot) == before, f"{verb} changed something"
    # One refusal per Action.Submit; an invoke's refusal is its answer.
    assert len(fake.sent) + len(fake.updates) == sent_before + len(SCOPES) * len(private)

    # "New request" answers with a pointer where it was pressed, the form goes to the 1:1.
    for scope, move in SCOPES.items():
        for person in (COORDINATOR, NEWCOMER):
            mark = len(fake.sent)
            body = await answer(bot, move(a.execute(url, person, "request.new", {})))
            assert body["value"] == FI("scope.sent_privately"), (scope, person)
            [form] = fake.sent[mark:]
            assert form.conversation_id == chat(person)
            assert FI("request.title") in texts(form.activity["attachments"][0]["content"])
            mark = len(fake.sent)
            await bot.post(move(a.submit(url, person, {"verb": "request.new"}, reply_to="act-1")))
            [pointer] = [s for s in fake.sent[mark:] if s.conversation_id != chat(person)]
            [form] = [s for s in fake.sent[mark:] if s.conversation_id == chat(person)]
            assert pointer.activity["text"] == FI("scope.sent_privately")
            assert FI("request.title") in texts(form.activity["attachments"][0]["content"])
    # The newcomer had no 1:1 chat with the bot: it was opened, once.
    assert [c["members"][0]["id"] for c in fake.created].count(NEWCOMER["id"]) == 1

    # Public verbs work where they were clicked and show nobody's client.
    newcomer = await user_id(bot, NEWCOMER)
    team = buttons["team.settings.save"][1]["team_id"]
    role = {"team_id": team, "user_id": newcomer, "role": "coordinator"}
    public_data = {
        "role.claim": (COORDINATOR, {"team_id": team}),
        "role.grant": (COORDINATOR, role),
        "role.revoke": (COORDINATOR, role),
        "profile.save": (COORDINATOR, {"profession": "social_worker"}),
        "roles.open": (COORDINATOR, {"team_id": team, "offset": 0}),
    }
    for verb in sorted(PUBLIC_VERBS):
        who, data = public_data.get(verb) or buttons.get(verb, (COORDINATOR, {}))
        for scope, move in SCOPES.items():
            body = await answer(bot, move(a.execute(url, who, verb, data)))
            assert body["value"] != refused, (verb, scope)
            assert body["type"] == CARD, (verb, scope, body)
            assert leaked(body) == [], (verb, scope)
            # The Action.Submit fallback: the clicked card is updated in place.
            mark = len(fake.updates)
            await bot.post(move(a.submit(url, who, {**data, "verb": verb}, reply_to="act-1")))
            [update] = fake.updates[mark:]
            assert update.conversation_id not in personal_chats(), (verb, scope)
            assert update.activity["attachments"][0]["content"] == body["value"], (verb, scope)

    assert [s.conversation_id for s in elsewhere(fake) if leaked(s.activity)] == []


async def test_every_command_in_a_channel_or_group_chat_answers_there_with_a_pointer_only(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    clock = SteppingClock()
    bot = await make_bot(clock=clock, admins=frozenset({COORDINATOR["aadObjectId"]}), **UNLIMITED)
    await world(bot, fake, url, clock)
    assert {spec.name for spec in COMMANDS if not spec.private} == PUBLIC_COMMANDS
    pointer = FI("scope.sent_privately")
    typed = {"channel": a.channel_text, "group chat": a.group_text}
    privately: list[dict[str, Any]] = []

    for scope, say in typed.items():
        # The coordinator is also an admin: every command has something to show them.
        for person in (COORDINATOR, REQUESTER, MEMBER_B):
            for spec in COMMANDS:
                words = [FI(spec.word_key)]
                if spec.name == "admin":
                    words.append(f"{words[0]} TK-2026-0001")
                for word in words:
                    mark = len(fake.sent)
                    await bot.post(say(url, person, word))
                    new = fake.sent[mark:]
                    there = [s for s in new if s.conversation_id not in personal_chats()]
                    mine = [s for s in new if s.conversation_id == chat(person)]
                    what = (scope, person["name"], word)
                    assert len(there) + len(mine) == len(new), what
                    assert leaked([s.activity for s in there]) == [], what
                    if not spec.private:
                        assert there and not mine, what
                        continue
                    [answer] = [s.activity.get("text") for s in there]
                    if answer == pointer:
                        assert mine, what
                    else:
                        # Refused (no rights): said there, and nothing was sent privately.
                        assert person is not COORDINATOR and not mine, what
                    if person is COORDINATOR:
                        assert any(s.activity.get("attachments") for s in mine), what
                    privately.extend(s.activity for s in mine)

    # What went to the 1:1 chats shows the cases: the channel would have shown them too.
    assert sorted(leaked(privately)) == sorted(MARKERS)
    assert [s.conversation_id for s in elsewhere(fake) if leaked(s.activity)] == []


async def test_a_command_in_a_channel_opens_the_1_1_chat_when_there_is_none_yet(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    await setup(bot, fake, url, PEOPLE)
    assert fake.created == []

    await bot.post(a.channel_text(url, NEWCOMER, "uusi"))
    assert [c["members"][0]["id"] for c in fake.created] == [NEWCOMER["id"]]
    form, pointer = fake.sent[-2:]
    assert form.conversation_id == chat(NEWCOMER)
    assert FI("request.title") in texts(form.activity["attachments"][0]["content"])
    assert pointer.conversation_id.startswith(a.TEAM)
    assert pointer.activity["text"] == FI("scope.sent_privately")
    # Known from now on: the next command goes straight to the same chat.
    await bot.post(a.group_text(url, NEWCOMER, "omat"))
    assert len(fake.created) == 1 and fake.sent[-2].conversation_id == chat(NEWCOMER)


async def test_a_1_1_chat_teams_will_not_open_yet_gets_the_card_from_the_outbox(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    await setup(bot, fake, url, PEOPLE)

    # Teams answers the first attempt to open the chat with 503 (it happens).
    fake.faults.append((503, {}))
    await bot.post(a.channel_text(url, LATECOMER, "uusi"))
    assert [s.activity.get("text") for s in fake.sent if s.conversation_id.startswith(a.TEAM)][
        -1
    ] == FI("scope.sent_privately")
    assert [s for s in fake.sent if s.conversation_id == chat(LATECOMER)] == []

    await bot.components.dispatcher.tick()
    [form] = [s for s in fake.sent if s.conversation_id == chat(LATECOMER)]
    assert FI("request.title") in texts(form.activity["attachments"][0]["content"])


async def test_a_conversation_that_does_not_say_its_type_is_personal_only_if_nothing_says_otherwise(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    """Some clients leave conversationType out of 1:1 chats; a channel or a group chat
    still says what it is (isGroup, the team in channelData) and is treated as one."""
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    await setup(bot, fake, url, PEOPLE)
    refused = {"type": MESSAGE, "value": FI("error.private_only"), "statusCode": 200}
    for move in (a.in_channel, a.in_group_chat):
        activity = move(a.execute(url, COORDINATOR, "request.queue", {}))
        del activity["conversation"]["conversationType"]
        assert await bot.invoke(activity) == refused
        mark = len(fake.sent)
        typed = move(a.text(url, COORDINATOR, "jono"))
        del typed["conversation"]["conversationType"]
        await bot.post(typed)
        assert [s.activity.get("text") for s in fake.sent[mark:] if "19:" in s.conversation_id] == [
            FI("scope.sent_privately")
        ]
    # A 1:1 chat without the type is still one.
    activity = a.execute(url, COORDINATOR, "request.queue", {})
    del activity["conversation"]["conversationType"]
    assert (await bot.invoke(activity))["type"] == CARD


async def test_an_identity_code_from_a_channel_is_refused_without_echoing_the_card(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    """In a 1:1 chat a request page with an identity code comes back with the other inputs
    kept; anywhere else the refusal is the bare message, repeating nothing typed."""
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    await setup(bot, fake, url, PEOPLE)
    typed = {"page": "question", "question": "Asiakas 131052-308T", "situation": CLOSED}
    bare = {"type": MESSAGE, "value": FI("error.identity_code"), "statusCode": 200}
    for move in SCOPES.values():
        assert await bot.invoke(move(a.execute(url, REQUESTER, "request.next", typed))) == bare
        mark = len(fake.sent)
        await bot.post(move(a.submit(url, REQUESTER, {**typed, "verb": "request.next"})))
        assert [s.activity.get("text") for s in fake.sent[mark:]] == [bare["value"]]
    kept = await bot.invoke(a.execute(url, REQUESTER, "request.next", typed))
    assert kept["type"] == CARD and inputs(kept["value"])["situation"]["value"] == CLOSED
    assert elsewhere(fake) and [s for s in elsewhere(fake) if leaked(s.activity)] == []
