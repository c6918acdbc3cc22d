"""Who sent an activity, read from the activity's JSON, and a short memory of senders.

Every turn records its sender (name, locale, 1:1 conversation) so the bot can write back
later. A card click comes from someone the bot has just heard from, exactly as they were:
the memory lets the hottest turns skip that read for a minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from cachetools import TTLCache

from consultations.model import User, UserRef
from consultations.ports import Clock

SENDER_MEMORY = timedelta(seconds=60)
SENDER_MEMORY_SIZE = 10_000


def json_obj(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The object under key, or an empty one when it is missing or not an object."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def json_str(mapping: Mapping[str, Any], key: str) -> str:
    """The string under key, or "" when it is missing or not a string."""
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def account_ref(activity: Mapping[str, Any], account: Mapping[str, Any]) -> UserRef:
    """A Teams account (the sender, or a member of a roster) as the bot records it.

    Only the sender's own activity says which language they use; a roster says nothing.
    """
    conversation = json_obj(activity, "conversation")
    tenant = json_str(conversation, "tenantId") or json_str(
        json_obj(json_obj(activity, "channelData"), "tenant"), "id"
    )
    account_id = json_str(account, "id")
    is_sender = bool(account_id) and account_id == json_str(json_obj(activity, "from"), "id")
    return UserRef(
        teams_user_id=account_id,
        aad_object_id=json_str(account, "aadObjectId") or json_str(account, "objectId") or None,
        name=json_str(account, "name"),
        locale=json_str(activity, "locale") if is_sender else "",
        tenant_id=tenant,
        service_url=json_str(activity, "serviceUrl"),
        bot_id=json_str(json_obj(activity, "recipient"), "id"),
    )


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
