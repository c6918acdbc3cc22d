"""What every card-driven flow shares: its collaborators and the verb dispatch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from consultations.calendar import BusinessCalendar
from consultations.ports import Clock, UnitOfWork
from dialogs.cards.base import Card, Localizer

Action = Callable[[int, Localizer, Mapping[str, Any]], Awaitable[Card]]


class CardFlow:
    """A flow answers the card actions whose verbs it owns with the card that replaces
    the one clicked; each action calls the use cases it needs."""

    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        calendar: BusinessCalendar,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._calendar = calendar
        self.verbs: dict[str, Action] = self.actions()

    def actions(self) -> dict[str, Action]:
        raise NotImplementedError

    async def handle(
        self, verb: str, user_id: int, t: Localizer, data: Mapping[str, Any]
    ) -> Card | None:
        """Run a card action of this flow; None when the verb is not this flow's."""
        action = self.verbs.get(verb)
        return None if action is None else await action(user_id, t, data)
