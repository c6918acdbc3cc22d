"""Finding colleagues by name on a team of hundreds (a card's typeahead picker): only
for a member of the team the card is about, and never more than a handful at a time."""

from __future__ import annotations

from collections.abc import Sequence

from consultations.consultation import CaseStatus
from consultations.errors import NotAuthorised, NotFound
from consultations.model import User
from consultations.ports import UnitOfWork

# Teams shows at most 15 typeahead choices.
MAX_FOUND = 15


def _rank(name: str, words: Sequence[str]) -> int | None:
    """How well a name matches what was typed: 0 it begins so, 1 every word typed begins
    a word of the name, 2 every word is somewhere in it; None, not at all."""
    folded = name.casefold()
    typed = " ".join(words)
    if folded.startswith(typed):
        return 0
    parts = folded.split()
    if all(any(part.startswith(word) for part in parts) for word in words):
        return 1
    if all(word in folded for word in words):
        return 2
    return None


def matching(people: Sequence[User], text: str) -> list[User]:
    """The people whose name matches `text` (any case, any order of words), best first;
    everyone, by name, when nothing is typed."""
    words = text.casefold().split()
    if not words:
        return sorted(people, key=lambda u: (u.name.casefold(), u.id))
    ranked = [(rank, u) for u in people if (rank := _rank(u.name, words)) is not None]
    return [u for _, u in sorted(ranked, key=lambda p: (p[0], p[1].name.casefold(), p[1].id))]


async def find_people(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    text: str,
    *,
    with_requester: bool,
    limit: int,
    skip: int = 0,
) -> list[User]:
    """Members of the case's team (and its requester, when they may be chosen too) whose
    name matches; for a member of that team only (NotAuthorised), a draft is nobody's
    business (NotFound). At most MAX_FOUND."""
    async with uow:
        case = await uow.consultations.get(case_id)
        if case is None or case.status is CaseStatus.DRAFT or case.team_id is None:
            raise NotFound()
        if not await uow.teams.is_member(case.team_id, actor_id):
            raise NotAuthorised()
        people = list(await uow.teams.members(case.team_id))
        if with_requester and all(p.id != case.requester_id for p in people):
            requester = await uow.users.get(case.requester_id)
            if requester is not None:
                people.append(requester)
    found = matching(people, text)
    return found[skip : skip + max(0, min(limit, MAX_FOUND))]
