"""The bot added to a team or a chat, and team membership changes.

Teams announces an installation twice: `installationUpdate` (action add), then a
`conversationUpdate` with the bot among the members added. The first one greets; both
record the team, its channels and its paged roster. Members joining or leaving a team
re-read the roster. A malformed event (a member without an id, a team without an id) is
logged and ignored: it never puts an error message in a channel.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.edge.activity import account_ref, conversation_type, json_obj, json_str, sender, tenant_of
from bot.edge.connector import BotConnector
from bot.i18n import Texts, team_texts
from consultations import services
from consultations.delivery import DeliveryFailure
from consultations.model import TeamInstallation, User, UserRef
from consultations.ports import Clock, UnitOfWork
from dialogs.cards import registry as cards
from dialogs.cards.base import Card

log = logging.getLogger(__name__)

# 100 pages of up to 500 members is more than any team.
MAX_ROSTER_PAGES = 100
Reply = Callable[[Card], Awaitable[None]]


class Installations:
    def __init__(
        self,
        *,
        connector: BotConnector,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        record_sender: Callable[[Mapping[str, Any]], Awaitable[User | None]],
        texts: Callable[[str | None], Texts],
    ) -> None:
        self._connector = connector
        self._uow = uow_factory
        self._clock = clock
        self._record_sender = record_sender
        self._texts = texts

    async def handle(self, activity: Mapping[str, Any], reply: Reply) -> None:
        kind = json_str(activity, "type")
        if kind == "installationUpdate":
            if json_str(activity, "action") in ("add", "add-upgrade"):
                await self._installed(activity, reply, greet=json_str(activity, "action") == "add")
            return
        added = activity.get("membersAdded") or []
        removed = activity.get("membersRemoved") or []
        bot_id = json_str(json_obj(activity, "recipient"), "id")
        ids = [json_str(m, "id") for m in [*added, *removed] if isinstance(m, dict)]
        if not ids or not all(ids):
            if added or removed:
                log.info("membership event without member ids ignored (activity %s)", _id(activity))
            return
        if any(json_str(m, "id") == bot_id for m in added):
            await self._installed(activity, reply, greet=False)
        elif _team_id(activity):
            await self._sync_team(activity, reply, greet=False)

    async def _installed(self, activity: Mapping[str, Any], reply: Reply, *, greet: bool) -> None:
        kind = conversation_type(activity)
        if kind == "channel":
            await self._sync_team(activity, reply, greet=greet)
            return
        user = await self._record_sender(activity)
        if user is None or not greet or kind != "personal":
            return
        texts = self._texts(user.speaks)
        await reply(cards.personal_welcome_card(texts, user.name))

    async def _sync_team(self, activity: Mapping[str, Any], reply: Reply, *, greet: bool) -> None:
        teams_team_id = _team_id(activity)
        if not teams_team_id:
            log.info("team event without a team id ignored (activity %s)", _id(activity))
            return
        team_data = json_obj(json_obj(activity, "channelData"), "team")
        bot_id = json_str(json_obj(activity, "recipient"), "id")
        service_url = json_str(activity, "serviceUrl")
        roster: list[UserRef] = []
        token: str | None = None
        for _page in range(MAX_ROSTER_PAGES):
            members, token = await self._connector.paged_members(service_url, teams_team_id, token)
            roster.extend(
                account_ref(activity, m)
                for m in members
                if isinstance(m.get("id"), str) and m["id"] and m["id"] != bot_id
            )
            if not token:
                break
        try:
            channels = await self._connector.team_channels(service_url, teams_team_id)
        except DeliveryFailure:
            # The channel list is a nicety; the roster is not.
            log.info("team channels unavailable (activity %s)", _id(activity))
            channels = []
        installation = TeamInstallation(
            teams_team_id=teams_team_id,
            name=json_str(team_data, "name") or teams_team_id,
            tenant_id=tenant_of(activity),
            service_url=service_url,
            general_channel_id=teams_team_id,
            channels=tuple(channels),
            roster=tuple(roster),
        )
        installer = sender(activity) if greet else None
        team, _installer, offer = await services.record_team_installation(
            self._uow(), installation, installer, self._clock.now()
        )
        if greet:
            # The channel hears the team's language, whoever installed the bot.
            await reply(cards.team_welcome_card(team_texts(team.settings), team, offer))


def _team_id(activity: Mapping[str, Any]) -> str:
    return json_str(json_obj(json_obj(activity, "channelData"), "team"), "id")


def _id(activity: Mapping[str, Any]) -> str:
    return json_str(activity, "id")
