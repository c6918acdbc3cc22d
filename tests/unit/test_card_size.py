"""The card size measure: never below the card's JSON as the bot sends it (compact) with
every non-ASCII character escaped, the largest form a client may count."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dialogs.cards.base import card_bytes, json_bytes


def escaped(card: dict[str, object]) -> int:
    return len(json.dumps(card, separators=(",", ":")).encode("utf-8"))


texts = st.text(st.characters(codec="utf-8"), max_size=200)


@given(texts, st.lists(texts, max_size=5))
def test_the_measure_is_never_below_the_escaped_json(text: str, more: list[str]) -> None:
    card = {
        "type": "AdaptiveCard",
        "body": [{"type": "TextBlock", "text": t} for t in more],
        "x": text,
    }
    assert card_bytes(card) >= escaped(card)


@given(st.text(st.characters(codec="latin-1") | st.sampled_from("😀𝄞"), max_size=200))
def test_the_measure_is_exact_for_two_and_four_byte_characters(text: str) -> None:
    # Finnish and Swedish letters (ä, ö, å) take two bytes: the measure is their escape.
    card = {"text": text}
    assert card_bytes(card) == escaped(card)


def test_an_euro_sign_counts_at_least_its_escape() -> None:
    assert card_bytes({"text": "€"}) >= escaped({"text": "€"})


def test_an_integer_beyond_64_bits_is_still_written() -> None:
    # A tampered payload may carry one; the answer must not fail on it.
    assert json_bytes({"id": 10**30}) == b'{"id":1000000000000000000000000000000}'
