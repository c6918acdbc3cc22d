"""A list card that pages: as many rows of the page as fit under Teams' limit, which of
how many these are, and "Show more" that answers with the next page in place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dialogs.cards.base import (
    MAX_CARD_BYTES,
    Card,
    Localizer,
    buttons,
    card_bytes,
    execute,
    paragraph,
)

Block = dict[str, Any]


def range_line(t: Localizer, offset: int, shown: int, total: int) -> list[Block]:
    """ "Showing 26–50 of 1500." when the list is longer than what is shown."""
    if offset == 0 and shown >= total:
        return []
    if shown == 0:
        return [paragraph(t("list.past_end"), subtle=True)]
    return [
        paragraph(t("list.range", first=offset + 1, last=offset + shown, total=total), subtle=True)
    ]


def paging_buttons(
    t: Localizer,
    verb: str,
    data: dict[str, Any],
    offset: int,
    shown: int,
    total: int,
) -> list[Block]:
    """Show more (the next page, the same verb) and back to the first page."""
    actions = []
    if offset + shown < total:
        more = execute(t("list.show_more"), verb, {**data, "offset": offset + max(shown, 1)})
        actions.append(more)
    if offset > 0:
        actions.append(execute(t("list.first_page"), verb, {**data, "offset": 0}))
    return [buttons(*actions)] if actions else []


def paged_card(
    build: Callable[[int], Card],
    rows: int,
) -> Card:
    """The card built with as many of the page's `rows` as fit under the limit (at least
    none): `build(n)` makes the card showing the first n rows with the footer that
    tells which they are, so a shortened page also pages on from where it stopped."""
    low, high = 0, rows
    card = build(high)
    if card_bytes(card) <= MAX_CARD_BYTES:
        return card
    # The most rows that fit, found in a few builds instead of one per row.
    best = build(0)
    while low < high:
        middle = (low + high + 1) // 2
        attempt = build(middle)
        if card_bytes(attempt) <= MAX_CARD_BYTES:
            low, best = middle, attempt
        else:
            high = middle - 1
    return best


def names_with_more(t: Localizer, names: Sequence[str], limit: int) -> str:
    """ "Aino, Eero and 12 more": a list of names kept short whatever its length."""
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return f"{shown} {t.n('list.and_more', rest)}" if rest > 0 else shown
