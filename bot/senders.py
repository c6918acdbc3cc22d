"""A short memory of the senders the bot has just recorded.

Every turn records its sender (name, locale, 1:1 conversation) so the bot can write back
later. A card click comes from someone the bot has just heard from, exactly as they were:
the memory lets the hottest turns skip that read for a minute.
"""

from __future__ import annotations

from datetime import timedelta

from cachetools import TTLCache

from consultations.model import User, UserRef
from consultations.ports import Clock

SENDER_MEMORY = timedelta(seconds=60)
SENDER_MEMORY_SIZE = 10_000


class SenderMemory:
    """The senders recorded in the last minute, as they were recorded (cachetools'
    TTLCache on the app's clock, least recently used out first when full).

    A sender counts as known only when everything the activity says of them (name,
    language, tenant, service URL, 1:1 conversation) is what was recorded. The minute
    bounds how long a change written by another instance (say, a user marked unreachable)
    can go unseen here.
    """

    def __init__(
        self, clock: Clock, ttl: timedelta = SENDER_MEMORY, max_size: int = SENDER_MEMORY_SIZE
    ) -> None:
        self._known: TTLCache[str, tuple[UserRef, str | None, User]] = TTLCache(
            maxsize=max_size, ttl=ttl.total_seconds(), timer=lambda: clock.now().timestamp()
        )

    def get(self, ref: UserRef, conversation_id: str | None) -> User | None:
        entry = self._known.get(ref.teams_user_id)
        if entry is None or entry[:2] != (ref, conversation_id):
            return None
        return entry[2]

    def put(self, ref: UserRef, conversation_id: str | None, user: User) -> None:
        self._known[ref.teams_user_id] = (ref, conversation_id, user)

    def forget(self, teams_user_id: str) -> None:
        """The user changed something the activity does not show (their language)."""
        self._known.pop(teams_user_id, None)
