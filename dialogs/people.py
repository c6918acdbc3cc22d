"""Typeahead searches for the people pickers (dialogs/cards/people.py): the case's team
found by name, for a member of that team only."""

from __future__ import annotations

from collections.abc import Sequence

from consultations.model import Profession, User
from consultations.people import find_people
from consultations.summary import Owner
from dialogs.cards import people as cards
from dialogs.cards.base import Localizer
from dialogs.cards.registry import EMPTY, profession_name
from dialogs.flow import Action, CardFlow, Search, SearchQuery
from dialogs.inputs import positive_id


class PeopleFlow(CardFlow):
    def actions(self) -> dict[str, Action]:
        return {}

    def datasets(self) -> dict[str, Search]:
        return {
            cards.MEMBERS: self._members,
            cards.PEOPLE: self._people,
            cards.OWNERS: self._owners,
        }

    async def _find(self, user_id: int, query: SearchQuery, *, with_requester: bool) -> list[User]:
        # The case id comes from the card: untrusted, checked like any other.
        case_id = positive_id({"case_id": query.scope}, "case_id")
        return await find_people(
            self._read(),
            user_id,
            case_id,
            query.text,
            with_requester=with_requester,
            limit=query.top,
            skip=query.skip,
        )

    async def _members(
        self, user_id: int, t: Localizer, query: SearchQuery
    ) -> Sequence[tuple[str, str]]:
        found = await self._find(user_id, query, with_requester=False)
        return [(member_title(t, u.name, u.profession), str(u.id)) for u in found]

    async def _people(
        self, user_id: int, t: Localizer, query: SearchQuery
    ) -> Sequence[tuple[str, str]]:
        found = await self._find(user_id, query, with_requester=True)
        return [(u.name or EMPTY, str(u.id)) for u in found]

    async def _owners(
        self, user_id: int, t: Localizer, query: SearchQuery
    ) -> Sequence[tuple[str, str]]:
        found = await self._find(user_id, query, with_requester=True)
        return [(u.name or EMPTY, Owner(user_id=u.id).token) for u in found]


def member_title(t: Localizer, name: str, profession: Profession | None) -> str:
    """As the poll's set-up card names a member: the name and the profession."""
    if profession is None:
        return name or EMPTY
    return f"{name or EMPTY} · {profession_name(t, profession)}"
