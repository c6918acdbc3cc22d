"""Reading an incoming activity: its JSON as Teams sent it, checked for shape, never trusted.

The turn works on the JSON itself (orjson-parsed): deserialising it into botbuilder's
msrest models cost more than the rest of a typed command's turn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from consultations.model import UserRef

MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)


def json_obj(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The object under key, or an empty one when it is missing or not an object."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def json_str(mapping: Mapping[str, Any], key: str) -> str:
    """The string under key, or "" when it is missing or not a string."""
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


def _callable_back(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an invalid port or IPv6 literal
        return False


def problem(data: Any) -> str | None:
    """Why an incoming activity's JSON is refused, or None when its shape is right."""
    if not isinstance(data, dict):
        return "activity must be a JSON object"
    for key in ("type", "serviceUrl", "channelId"):
        if not isinstance(data.get(key), str) or not data[key]:
            return f"activity needs a string {key}"
    if not _callable_back(data["serviceUrl"]):
        # Every reply goes there: Teams always sends an absolute https URL (http on a
        # developer's machine), and anything else could never be answered.
        return "serviceUrl must be an http(s) URL"
    for key in ("conversation", "from", "recipient"):
        value = data.get(key)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            return f"activity needs {key}.id"
    for key in ("text", "locale", "name", "id", "replyToId", "textFormat", "deliveryMode"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            return f"{key} must be a string"
    channel_data = data.get("channelData")
    if channel_data is not None and not isinstance(channel_data, dict):
        return "channelData must be an object"
    for key in ("membersAdded", "membersRemoved", "attachments", "entities"):
        value = data.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, dict) for v in value)
        ):
            return f"{key} must be a list of objects"
    return None


def conversation_type(activity: Mapping[str, Any]) -> str:
    """personal, groupChat or channel (Teams leaves it out of 1:1 chats in some clients).

    Without the type, a conversation counts as a 1:1 chat only when nothing says it is
    shared: client details go only to 1:1 chats, so a doubt must not open that door."""
    conversation = json_obj(activity, "conversation")
    stated = json_str(conversation, "conversationType")
    if stated:
        return stated
    channel_data = json_obj(activity, "channelData")
    if json_obj(channel_data, "team") or json_obj(channel_data, "channel"):
        return "channel"
    if conversation.get("isGroup") is True:
        return "groupChat"
    return "personal"


def is_personal(activity: Mapping[str, Any]) -> bool:
    return conversation_type(activity) == "personal"


def tenant_of(activity: Mapping[str, Any]) -> str:
    return json_str(json_obj(activity, "conversation"), "tenantId") or json_str(
        json_obj(json_obj(activity, "channelData"), "tenant"), "id"
    )


def account_ref(activity: Mapping[str, Any], account: Mapping[str, Any]) -> UserRef:
    """A Teams account (the sender, or a member of a roster) as the bot records it.

    Only the sender's own activity says which language they use; a roster says nothing.
    """
    account_id = json_str(account, "id")
    is_sender = bool(account_id) and account_id == json_str(json_obj(activity, "from"), "id")
    return UserRef(
        teams_user_id=account_id,
        aad_object_id=json_str(account, "aadObjectId") or json_str(account, "objectId") or None,
        name=json_str(account, "name"),
        locale=json_str(activity, "locale") if is_sender else "",
        tenant_id=tenant_of(activity),
        service_url=json_str(activity, "serviceUrl"),
        bot_id=json_str(json_obj(activity, "recipient"), "id"),
    )


def sender(activity: Mapping[str, Any]) -> UserRef | None:
    """Who sent the activity; None for one without a sender or from the bot itself."""
    account = json_obj(activity, "from")
    account_id = json_str(account, "id")
    if not account_id or account_id == json_str(json_obj(activity, "recipient"), "id"):
        return None
    return account_ref(activity, account)


def card_action(activity: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The verb and data of an Action.Execute invoke ("" when there is none)."""
    action = json_obj(json_obj(activity, "value"), "action")
    return json_str(action, "verb"), json_obj(action, "data")


def submitted(activity: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The verb and data of an Action.Submit (a message whose value names a verb)."""
    value = activity.get("value")
    if not isinstance(value, dict):
        return None
    verb = value.get("verb")
    return (verb, value) if isinstance(verb, str) and verb else None


def command_text(activity: Mapping[str, Any]) -> str:
    """The typed text without the @mention Teams puts in front of it in channels."""
    return MENTION.sub("", json_str(activity, "text")).strip()


def strings(value: Any) -> list[str]:
    """Every string inside a JSON value (for the identity-code check)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
            stack.extend(k for k in item if isinstance(k, str))
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found
