"""Pickers of people that stay small on a team of hundreds: the people the card
suggests are its static choices, everyone else is found by typing a name (Teams'
typeahead: `choices.data` asks the bot, invoke application/search, dialogs/people.py)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from dialogs.cards.base import Localizer

# The typeahead datasets (dialogs/people.py answers them); the scope after the colon is
# the case the card is about.
MEMBERS = "people.members"  # the case's team; values are user ids
PEOPLE = "people.case"  # the team and the case's requester; values are user ids
OWNERS = "people.owners"  # the same, as recommendation owners ("user:<id>")
# Up to this many candidates every one is a static choice, as on a small team.
ALL_SHOWN = 30


def dataset(name: str, case_id: int | None) -> str:
    return f"{name}:{case_id or 0}"


def people_picker(
    t: Localizer,
    *,
    input_id: str,
    label: str,
    candidates: Sequence[tuple[str, str]],
    suggested: Collection[str],
    search: str,
    value: str = "",
    multi: bool = False,
    extra: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """An Input.ChoiceSet of people (title, value): every candidate when there are few,
    else the suggested ones and those chosen already, the rest found by typing (the
    dataset `search`). `extra` choices (outside parties) are always there."""
    chosen = {v for v in value.split(",") if v}
    if len(candidates) <= ALL_SHOWN:
        shown = list(candidates)
    else:
        kept = {*suggested, *chosen}
        shown = [c for c in candidates if c[1] in kept]
    picker: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "style": "filtered",
        "placeholder": t("people.search_placeholder"),
        "choices": [{"title": title, "value": v} for title, v in [*shown, *extra]],
        "choices.data": {"type": "Data.Query", "dataset": search},
    }
    if multi:
        picker["isMultiSelect"] = True
    if value or multi:
        picker["value"] = value
    return picker
