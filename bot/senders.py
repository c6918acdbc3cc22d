"""A short memory of the senders the bot has just recorded.

Every turn records its sender (name, locale, 1:1 conversation) so the bot can write back
later. A card click comes from someone the bot has just heard from, exactly as they were:
the memory lets the hottest turns skip that read for a minute.

What another instance writes about a remembered user (a language chosen there, a user
marked unreachable) reaches this memory through `SenderWatch`: one query every few
seconds for the users changed within the minute, instead of a read on every turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from cachetools import TTLCache

from consultations.model import User, UserRef
from consultations.ports import Clock, UnitOfWork

SENDER_MEMORY = timedelta(seconds=60)
SENDER_MEMORY_SIZE = 10_000
# How often each instance looks for users changed elsewhere: a language chosen on one
# instance is heard on the others within this (the outbox's default tick, too).
SENDER_WATCH_SECONDS = 2.0
# Looked for beyond the memory's minute: instances' clocks differ a little, and a change
# may commit a moment after the time it carries.
_CLOCK_MARGIN = timedelta(seconds=15)


class SenderMemory:
    """The senders recorded in the last minute, as they were recorded (cachetools'
    TTLCache on the app's clock, least recently used out first when full).

    A sender counts as known only when everything the activity says of them (name,
    language, tenant, service URL, 1:1 conversation) is what was recorded, and nothing
    stored about them has changed since (see `reconcile`).
    """

    def __init__(
        self, clock: Clock, ttl: timedelta = SENDER_MEMORY, max_size: int = SENDER_MEMORY_SIZE
    ) -> None:
        self.ttl = ttl
        self._known: TTLCache[str, tuple[UserRef, str | None, User]] = TTLCache(
            maxsize=max_size, ttl=ttl.total_seconds(), timer=lambda: clock.now().timestamp()
        )

    def __len__(self) -> int:
        return len(self._known)

    def get(self, ref: UserRef, conversation_id: str | None) -> User | None:
        entry = self._known.get(ref.teams_user_id)
        if entry is None or entry[:2] != (ref, conversation_id):
            return None
        return entry[2]

    def remembered(self, teams_user_id: str) -> User | None:
        """The user as recorded lately, whatever the activity now says of them."""
        entry = self._known.get(teams_user_id)
        return entry[2] if entry else None

    def put(self, ref: UserRef, conversation_id: str | None, user: User) -> None:
        self._known[ref.teams_user_id] = (ref, conversation_id, user)

    def forget(self, teams_user_id: str) -> None:
        """The user changed something the activity does not show (their language)."""
        self._known.pop(teams_user_id, None)

    def reconcile(self, stored: Iterable[User]) -> int:
        """Forget every remembered sender whose stored row is no longer what was
        remembered (another instance changed it); return how many were forgotten."""
        forgotten = 0
        for user in stored:
            entry = self._known.get(user.teams_user_id)
            if entry is not None and entry[2] != user:
                self.forget(user.teams_user_id)
                forgotten += 1
        return forgotten


class SenderWatch:
    """Keeps one instance's SenderMemory in line with what every instance wrote."""

    def __init__(
        self, memory: SenderMemory, uow_factory: Callable[[], UnitOfWork], clock: Clock
    ) -> None:
        self._memory = memory
        self._uow = uow_factory
        self._clock = clock

    async def tick(self) -> int:
        """Read the users changed within the memory's minute and forget those remembered
        otherwise; return how many. An empty memory costs no query."""
        if not len(self._memory):
            return 0
        since = self._clock.now() - self._memory.ttl - _CLOCK_MARGIN
        async with self._uow() as uow:
            changed = await uow.users.changed_since(since)
        return self._memory.reconcile(changed)
