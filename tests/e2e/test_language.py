"""The language a person chooses (`kieli` / `språk` / `language`, issue 15) is what the bot
writes to them in, whatever their Teams client says: turns, refusals and proactive
messages, from the first turn after the choice, on every instance of the bot."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.i18n import texts_for
from storage.tables import users
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
from tests.support.cards import actions, inputs, texts
from tests.support.connector import LoopbackConnector

FI, SV, EN = texts_for("fi"), texts_for("sv"), texts_for("en")
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
ENGLISH_CLIENT = "en-US"  # what the Agents Playground always says
IDENTITY_CODE = "131052-308T"


def title(card: dict[str, Any]) -> str:
    return str(card["body"][0]["text"])


async def say(
    bot: RunningBot, fake: LoopbackConnector, url: str, user: dict[str, Any], words: str
) -> dict[str, Any]:
    """What the bot answers `words` typed in the user's en-US client: the card's content or
    {"text": ...}."""
    await bot.post(a.text(url, user, words, locale=ENGLISH_CLIENT))
    sent = fake.sent[-1]
    assert sent.conversation_id == chat(user)
    attachments = sent.activity.get("attachments")
    return attachments[0]["content"] if attachments else {"text": sent.activity["text"]}


async def press(
    bot: RunningBot, url: str, user: dict[str, Any], card: dict[str, Any], verb: str, **typed: Any
) -> dict[str, Any]:
    """Click `verb` in the en-US client; return the card that replaces `card`."""
    data = {**actions(card)[verb]["data"], **typed}
    body = await bot.invoke(a.execute(url, user, verb, data, locale=ENGLISH_CLIENT))
    assert body["type"] == CARD, body
    return body["value"]  # type: ignore[no-any-return]


async def stored_language(bot: RunningBot, user: dict[str, Any]) -> str | None:
    async with bot.components.engine.connect() as connection:
        found = await connection.execute(
            select(users.c.language).where(users.c.teams_user_id == user["id"])
        )
        return found.scalar_one()  # type: ignore[no-any-return]


async def test_swedish_chosen_in_an_english_client_is_what_the_bot_writes_from_then_on(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    await setup(bot, fake, url)
    assert title(await say(bot, fake, url, COORDINATOR, "help")) == EN("help.title")

    chosen = await say(bot, fake, url, COORDINATOR, "kieli sv")
    assert title(chosen) == SV("language.title")
    assert SV("language.saved") in texts(chosen)
    assert await stored_language(bot, COORDINATOR) == "sv"
    # The very next turn, typed in the same English client, is answered in Swedish.
    assert title(await say(bot, fake, url, COORDINATOR, "help")) == SV("help.title")
    # `kieli` alone shows the choice, Swedish ticked, each language named in itself.
    card = await say(bot, fake, url, COORDINATOR, "kieli")
    choice = inputs(card)["language"]
    assert choice["value"] == "sv"
    assert [c["title"] for c in choice["choices"]] == [
        "Suomi",
        "Svenska",
        "English",
        SV("language.follow_teams"),
    ]
    # An identity code is refused in the chosen language, too.
    refused = await say(bot, fake, url, COORDINATOR, f"asiakas {IDENTITY_CODE}")
    assert refused == {"text": SV("error.identity_code")}
    form = await say(bot, fake, url, COORDINATOR, "new")
    assert title(form) == SV("request.title")
    again = await press(bot, url, COORDINATOR, form, "request.next", client_reference=IDENTITY_CODE)
    assert title(again) == SV("request.title") and IDENTITY_CODE not in str(again)
    assert SV("request.field.client_reference") in texts(again)

    # The requester, on a Finnish client, chooses English; the coordinator's triage card
    # and the requester's decision are proactive, and each comes in its reader's choice.
    await bot.post(a.text(url, REQUESTER, "language en"))
    review = await file_request(bot, fake, url, "Miten tukea paluuta työelämään?")
    assert title(review) == EN("request.title")
    await click(bot, url, REQUESTER, review, "request.submit")
    await bot.components.dispatcher.tick()
    triage = fake.cards(chat(COORDINATOR))[-1]
    assert title(triage) == SV("triage.title.new", case_number="TK-2026-0001")
    await press(bot, url, COORDINATOR, triage, "triage.accept")
    await bot.components.dispatcher.tick()
    decision = fake.cards(chat(REQUESTER))[-1]
    assert title(decision) == EN("decision.accepted.title", case_number="TK-2026-0001")

    # "Same as in Teams" on the card: English again (the client's), from the next turn.
    following = await press(bot, url, COORDINATOR, card, "language.set", language="teams")
    assert title(following) == EN("language.title")
    assert EN("language.following") in texts(following)
    assert await stored_language(bot, COORDINATOR) is None
    assert title(await say(bot, fake, url, COORDINATOR, "hjälp")) == EN("help.title")


async def test_a_choice_made_with_the_cards_button_holds_from_the_next_turn(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    """Through Action.Execute and through the Action.Submit fallback alike."""
    fake, url = connector
    bot = await make_bot(clock=SteppingClock())
    await setup(bot, fake, url)
    card = await say(bot, fake, url, COORDINATOR, "language")
    assert title(card) == EN("language.title")

    finnish = await press(bot, url, COORDINATOR, card, "language.set", language="fi")
    assert FI("language.saved") in texts(finnish)
    assert title(await say(bot, fake, url, COORDINATOR, "help")) == FI("help.title")

    submitted = a.submit(
        url,
        COORDINATOR,
        {**actions(card)["language.set"]["data"], "verb": "language.set", "language": "sv"},
        locale=ENGLISH_CLIENT,
        reply_to="act-1",
    )
    await bot.post(submitted)
    assert SV("language.saved") in texts(fake.updates[-1].activity["attachments"][0]["content"])
    assert title(await say(bot, fake, url, COORDINATOR, "help")) == SV("help.title")


async def test_a_choice_made_on_one_instance_is_heard_on_another_at_its_next_watch(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str
) -> None:
    """Two instances share the database. Each remembers the senders of the last minute to
    spare their turns a read; the other instance's sender watch (every 2 s) reads the
    users changed meanwhile, and forgets only those remembered otherwise."""
    fake, url = connector
    clock = SteppingClock()
    one = await make_bot(database_url, clock=clock)
    two = await make_bot(database_url, clock=clock)
    await setup(one, fake, url)
    assert title(await say(two, fake, url, COORDINATOR, "help")) == EN("help.title")
    assert title(await say(two, fake, url, REQUESTER, "help")) == EN("help.title")

    await say(one, fake, url, COORDINATOR, "kieli sv")
    # The clock has not moved: only the watch can tell instance two.
    assert await two.components.senders.tick() == 1
    assert title(await say(two, fake, url, COORDINATOR, "help")) == SV("help.title")
    # Nothing changed since: nobody is forgotten, the turns read nothing more.
    assert await two.components.senders.tick() == 0

    card = await say(one, fake, url, COORDINATOR, "kieli")
    await press(one, url, COORDINATOR, card, "language.set", language="teams")
    assert await two.components.senders.tick() == 1
    assert title(await say(two, fake, url, COORDINATOR, "help")) == EN("help.title")
