"""What every card-driven flow shares: its collaborators, its card verbs and its commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consultations.calendar import BusinessCalendar
from consultations.ports import Clock, UnitOfWork
from dialogs.cards.base import Card, Localizer

Action = Callable[[int, Localizer, Mapping[str, Any]], Awaitable[Card]]


@dataclass(frozen=True)
class SearchQuery:
    """What Teams asks when someone types into a typeahead input (an Input.ChoiceSet with
    `choices.data`, invoke "application/search"). Untrusted: `scope` (what follows the
    dataset's name and a colon, e.g. a case id) and `data` come from the card."""

    text: str
    scope: str
    data: Mapping[str, Any]
    top: int
    skip: int


# (title shown, value submitted) of each choice found, at most `top` of them.
Search = Callable[[int, Localizer, SearchQuery], Awaitable[Sequence[tuple[str, str]]]]
# What a command answers: a card or a text, or several (one roles card per team).
Reply = Card | str
CommandAction = Callable[[int, Localizer, str], Awaitable[Reply | Sequence[Reply]]]


class CardFlow:
    """A flow answers the card actions whose verbs it owns with the card that replaces
    the one clicked, and the commands it owns with what to send; each calls the use
    cases it needs. Card payloads are untrusted: every action checks on the server."""

    # Verbs whose cards show no client details: they work in a channel or group chat too.
    public_verbs: frozenset[str] = frozenset()
    # Buttons that, pressed in a channel or group chat, open their card in the person's
    # 1:1 chat instead (every other verb is refused there).
    redirect_verbs: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        calendar: BusinessCalendar,
        admins: frozenset[str] = frozenset(),
        read_uow_factory: Callable[[], UnitOfWork] | None = None,
    ) -> None:
        """`read_uow_factory`: units of work for views, which read and record who looked
        (audit records) but change nothing; on SQLite they read beside the writer
        instead of queueing for it (storage.db). The plain factory when not given."""
        self._uow = uow_factory
        self._read = read_uow_factory or uow_factory
        self._clock = clock
        self._calendar = calendar
        self._admins = admins
        self.verbs: dict[str, Action] = self.actions()

    def actions(self) -> dict[str, Action]:
        raise NotImplementedError

    def commands(self) -> dict[str, CommandAction]:
        """Command name (dialogs/commands.py) -> what runs it; most flows have none."""
        return {}

    def datasets(self) -> dict[str, Search]:
        """Typeahead dataset name -> what answers its searches; most flows have none. The
        answer checks on the server who may see what; a refusal (DomainError) answers
        no choices."""
        return {}

    async def refused_inputs(self, verb: str, t: Localizer, data: Mapping[str, Any]) -> Card | None:
        """When a card action is refused for what its inputs hold (an identity code): the
        card again with every other input kept and the refused one named, or None for
        the refusal alone. Stores nothing."""
        return None

    async def handle(
        self, verb: str, user_id: int, t: Localizer, data: Mapping[str, Any]
    ) -> Card | None:
        """Run a card action of this flow; None when the verb is not this flow's."""
        action = self.verbs.get(verb)
        return None if action is None else await action(user_id, t, data)
