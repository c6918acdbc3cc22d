"""Choosing the language the bot writes in (`kieli` / `språk` / `language`).

Teams tells the bot the language of each person's client, but a Swedish-speaking nurse
on a Finnish Teams (and anyone in the Agents Playground, which always says en-US) needs
to choose. The choice is stored with the user and used for everything the bot sends
them, proactive messages included; "follow Teams" goes back to the client's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from consultations import services
from consultations.errors import InvalidInput
from consultations.model import LANGUAGES
from dialogs.cards.base import Card, Localizer, adaptive_card, execute, good, heading, paragraph
from dialogs.flow import Action, CardFlow, CommandAction

FOLLOW_TEAMS = "teams"
# Words a person might type after the command, in any of the three languages.
_WORDS = {
    "fi": ("fi", "suomi", "suomeksi", "finska", "finnish"),
    "sv": ("sv", "svenska", "ruotsi", "ruotsiksi", "swedish", "på svenska"),
    "en": ("en", "english", "englanti", "englanniksi", "engelska"),
    FOLLOW_TEAMS: (FOLLOW_TEAMS, "auto", "automaattinen", "automatisk", "automatic"),
}
# Each language is named in itself, so a person who reads no other can find their own.
_NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}


def parse_language(text: str) -> str | None:
    """The language (or FOLLOW_TEAMS) a typed word names; None when it names none."""
    word = text.strip().lower().rstrip(".!")
    for language, words in _WORDS.items():
        if word in words:
            return language
    return None


def language_card(t: Localizer, current: str | None, *, notice: str = "") -> Card:
    body: list[dict[str, Any]] = [heading(t("language.title"))]
    if notice:
        body.append(good(notice))
    body.append(paragraph(t("language.intro")))
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "language",
            "label": t("language.choice"),
            "style": "expanded",
            "value": current or FOLLOW_TEAMS,
            "choices": [{"title": _NAMES[code], "value": code} for code in LANGUAGES]
            + [{"title": t("language.follow_teams"), "value": FOLLOW_TEAMS}],
        }
    )
    return adaptive_card(body, [execute(t("language.save"), "language.set", style="positive")])


class LanguageFlow(CardFlow):
    # The card shows and sets only the clicker's own language: `kieli` typed in a channel
    # answers there, and a click there sets the clicker's language, whoever typed it.
    public_verbs = frozenset({"language.open", "language.set"})

    def __init__(self, *, localize: Callable[[str | None], Localizer], **kwargs: Any) -> None:
        """`localize`: the texts of a language by its code, to answer in the new one."""
        self.localize = localize
        super().__init__(**kwargs)

    def actions(self) -> dict[str, Action]:
        return {"language.open": self._open, "language.set": self._set}

    def commands(self) -> dict[str, CommandAction]:
        return {"language": self.command}

    async def command(self, user_id: int, t: Localizer, args: str) -> Card | str:
        if not args.strip():
            return await self._card(user_id, t)
        chosen = parse_language(args)
        if chosen is None:
            return t("language.unknown", given=args.strip()[:40])
        return await self._choose(user_id, chosen)

    async def _card(self, user_id: int, t: Localizer) -> Card:
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        return language_card(t, user.language if user else None)

    async def _open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        return await self._card(user_id, t)

    async def _set(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        value = data.get("language")
        if not isinstance(value, str) or (value not in LANGUAGES and value != FOLLOW_TEAMS):
            raise InvalidInput()
        return await self._choose(user_id, value)

    async def _choose(self, user_id: int, chosen: str) -> Card:
        language = None if chosen == FOLLOW_TEAMS else chosen
        await services.set_language(self._uow(), user_id, language, self._clock.now())
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        # Answer in the language just chosen (or, following Teams, the client's).
        t = self.localize(language or (user.locale if user else None))
        notice = t("language.saved") if language else t("language.following")
        return language_card(t, language, notice=notice)
