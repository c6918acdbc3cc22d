"""Building blocks shared by every card."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import orjson

Card = dict[str, Any]
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams refuses cards over 28 KB; stay well below.
MAX_CARD_BYTES = 24_000
HELSINKI = ZoneInfo("Europe/Helsinki")
# A name for the type inside classes whose method is called `datetime`.
Moment = datetime
Step = TypeVar("Step")


class Localizer(Protocol):
    """What a card needs to speak the user's language (bot.i18n.Texts fits)."""

    @property
    def language(self) -> str: ...

    def __call__(self, message_id: str, **params: object) -> str: ...

    def n(self, message_id: str, count: int, **params: object) -> str: ...

    def datetime(self, value: datetime) -> str: ...

    def date(self, value: date) -> str: ...

    def time(self, value: Moment) -> str: ...

    def span(self, start: Moment, end: Moment) -> str: ...

    def moment(self, value: Moment) -> str: ...


def adaptive_card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> Card:
    card: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def heading(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "weight": "Bolder", "size": "Medium", "wrap": True}


def paragraph(text: str, *, subtle: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "TextBlock", "text": text, "wrap": True}
    if subtle:
        block["isSubtle"] = True
    return block


def facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in pairs]}


def execute(
    title: str, verb: str, data: dict[str, Any] | None = None, *, style: str = ""
) -> dict[str, Any]:
    """An Action.Execute (Universal Actions) with an Action.Submit fallback for old clients.

    The verb travels in the data too, so a submitted fallback is routed the same way.
    """
    payload = {"verb": verb, **(data or {})}
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": payload,
        "fallback": {"type": "Action.Submit", "title": title, "data": payload},
    }
    if style:
        action["style"] = style
    return action


def attachment(card: Card) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": card}


_NON_ASCII = bytes(range(0x80, 0x100))


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, fast (orjson); what orjson refuses (an integer beyond 64 bits
    from a tampered payload) goes through the json module instead."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def card_bytes(card: Card) -> int:
    """The card's size as JSON with non-ASCII escaped: the most conservative measure.

    Encoded as UTF-8 (orjson: a card is measured on every turn that answers with one),
    every byte of a multi-byte character then counts three: exactly its \\uXXXX escape
    for two- and four-byte characters, more than it for three-byte ones.
    """
    data = json_bytes(card)
    non_ascii = len(data) - len(data.translate(None, _NON_ASCII))
    return len(data) + 2 * non_ascii + 5 * data.count(0x7F)  # DEL, sent raw, escapes to 6


def fit(build: Callable[[Step], Card], steps: Sequence[Step]) -> Card:
    """Build with the first (fullest) step, then with each tighter one until it fits."""
    card = build(steps[0])
    for step in steps[1:]:
        if card_bytes(card) <= MAX_CARD_BYTES:
            break
        card = build(step)
    return card


def clip_text(text: str, limit: int | None) -> str:
    """The text, cut to `limit` characters with an ellipsis when longer."""
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def attention(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, "color": "Attention"}


def good(text: str) -> dict[str, Any]:
    """A bold, green line: something went well."""
    return {"type": "TextBlock", "text": text, "wrap": True, "color": "Good", "weight": "Bolder"}


def bold(text: str, *, separator: bool = False) -> dict[str, Any]:
    block = paragraph(f"**{text}**")
    if separator:
        block["separator"] = True
    return block


def row(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A group of blocks set apart from what is above it."""
    return {"type": "Container", "separator": True, "items": items}


def buttons(*actions: dict[str, Any]) -> dict[str, Any]:
    """Buttons inside the body, beside what they act on."""
    return {"type": "ActionSet", "actions": list(actions)}
