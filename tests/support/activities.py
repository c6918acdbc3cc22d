"""Teams-shaped activities, as Teams (and the Agents Playground) send them."""

from __future__ import annotations

import itertools
from typing import Any

TENANT = "11111111-2222-3333-4444-555555555555"
BOT_ID = "28:bot-under-test"
_ids = itertools.count(1)


def user(n: int, name: str | None = None) -> dict[str, Any]:
    return {
        "id": f"29:user-{n}",
        "name": name or f"User {n}",
        "aadObjectId": f"00000000-0000-0000-0000-{n:012d}",
    }


def personal(
    service_url: str, sender: dict[str, Any], *, locale: str = "fi-FI", **fields: Any
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": "message",
        "id": f"in-{next(_ids)}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": sender,
        "recipient": {"id": BOT_ID, "name": "Työkykytiimi"},
        "conversation": {
            "id": f"a:personal-{sender['id']}",
            "conversationType": "personal",
            "tenantId": TENANT,
        },
        "channelData": {"tenant": {"id": TENANT}},
        "locale": locale,
    }
    activity.update(fields)
    return activity


def text(
    service_url: str, sender: dict[str, Any], words: str, locale: str = "fi-FI"
) -> dict[str, Any]:
    return personal(service_url, sender, locale=locale, text=words, textFormat="plain")


def execute(
    service_url: str, sender: dict[str, Any], verb: str, data: dict[str, Any], locale: str = "fi-FI"
) -> dict[str, Any]:
    return personal(
        service_url,
        sender,
        locale=locale,
        type="invoke",
        name="adaptiveCard/action",
        value={
            "action": {"type": "Action.Execute", "verb": verb, "data": data},
            "trigger": "manual",
        },
    )


def submit(
    service_url: str,
    sender: dict[str, Any],
    value: dict[str, Any],
    locale: str = "fi-FI",
    reply_to: str | None = None,
) -> dict[str, Any]:
    extra: dict[str, Any] = {"value": value}
    if reply_to:
        extra["replyToId"] = reply_to
    return personal(service_url, sender, locale=locale, **extra)


def bot_added_to_team(service_url: str, installer: dict[str, Any], team_id: str) -> dict[str, Any]:
    """The conversationUpdate Teams sends after the installationUpdate."""
    activity = team_installed(service_url, installer, team_id)
    activity.update(type="conversationUpdate", membersAdded=[{"id": BOT_ID}])
    activity.pop("action")
    activity.pop("locale")
    activity["channelData"]["eventType"] = "teamMemberAdded"
    return activity


def team_installed(
    service_url: str,
    installer: dict[str, Any],
    team_id: str = "19:team-general@thread.tacv2",
    team_name: str = "Työkykytiimi Pohjoinen",
    locale: str = "fi-FI",
) -> dict[str, Any]:
    return {
        "type": "installationUpdate",
        "action": "add",
        "id": f"in-{next(_ids)}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": installer,
        "recipient": {"id": BOT_ID, "name": "Työkykytiimi"},
        "conversation": {
            "id": team_id,
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TENANT,
        },
        "channelData": {
            "team": {"id": team_id, "name": team_name},
            "channel": {"id": team_id},
            "tenant": {"id": TENANT},
        },
        "locale": locale,
    }


# --- the same activities from a team channel or a group chat ------------------------------

TEAM = "19:team-general@thread.tacv2"
GROUP_CHAT = "19:meeting-group-chat@thread.v2"
BOT_NAME = "Työkykytiimi"


def _mentioned(activity: dict[str, Any]) -> None:
    """In a channel or a group chat a message reaches the bot only when it is @mentioned:
    Teams then puts the mention in front of the text and names it in the entities."""
    if activity.get("type") == "message" and isinstance(activity.get("text"), str):
        at = f"<at>{BOT_NAME}</at>"
        activity["text"] = f"{at} {activity['text']}"
        activity["entities"] = [
            {"type": "mention", "mentioned": {"id": BOT_ID, "name": BOT_NAME}, "text": at}
        ]


def in_channel(activity: dict[str, Any], team_id: str = TEAM) -> dict[str, Any]:
    """The activity as Teams sends it from the team's General channel: in the thread of
    the post (a typed command starts one), with the team and channel in channelData."""
    moved = {**activity, "channelData": {**activity.get("channelData", {})}}
    moved["conversation"] = {
        "id": f"{team_id};messageid={activity['id'].removeprefix('in-')}",
        "conversationType": "channel",
        "isGroup": True,
        "tenantId": TENANT,
    }
    moved["channelData"].update(
        team={"id": team_id},
        channel={"id": team_id},
        teamsTeamId=team_id,
        teamsChannelId=team_id,
    )
    _mentioned(moved)
    return moved


def in_group_chat(activity: dict[str, Any], chat_id: str = GROUP_CHAT) -> dict[str, Any]:
    """The activity as Teams sends it from a group chat (no team in channelData)."""
    moved = dict(activity)
    moved["conversation"] = {
        "id": chat_id,
        "conversationType": "groupChat",
        "isGroup": True,
        "tenantId": TENANT,
    }
    _mentioned(moved)
    return moved


def channel_text(
    service_url: str,
    sender: dict[str, Any],
    words: str,
    locale: str = "fi-FI",
    team_id: str = TEAM,
) -> dict[str, Any]:
    """`@Työkykytiimi words` posted in the team's channel."""
    return in_channel(text(service_url, sender, words, locale), team_id)


def group_text(
    service_url: str, sender: dict[str, Any], words: str, locale: str = "fi-FI"
) -> dict[str, Any]:
    """`@Työkykytiimi words` in a group chat."""
    return in_group_chat(text(service_url, sender, words, locale))
