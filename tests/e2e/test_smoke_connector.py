"""End to end through the real app and a loopback Bot Connector."""

from __future__ import annotations

from tests.conftest import BotFactory
from tests.support import activities as a
from tests.support.connector import LoopbackConnector


async def test_help_answers_in_the_users_language(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    for words, locale, title in (
        ("apua", "fi-FI", "Työkykytiimi – ohje"),
        ("hjälp", "sv-SE", "Työkykytiimi – hjälp"),
        ("help", "en-US", "Työkykytiimi – help"),
    ):
        response = await bot.post(a.text(url, a.user(1), words, locale=locale))
        assert response.status in (200, 201), await response.text()
        card = fake.cards()[-1]
        assert card["body"][0]["text"] == title
