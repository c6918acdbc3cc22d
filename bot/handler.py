"""The Teams activity handler: turns activities into dialog runs or use-case calls."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from botbuilder.core import (
    InvokeResponse,
    MessageFactory,
    TurnContext,
)
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ActivityTypes

from bot.connector import BotConnector
from bot.i18n import Texts, texts_for
from bot.senders import SenderMemory, account_ref, json_obj, json_str
from consultations import services
from consultations.delivery import DeliveryFailure
from consultations.errors import DomainError, InvalidInput, NotAuthorised
from consultations.model import Role, TeamInstallation, User, UserRef
from consultations.ports import Clock, UnitOfWork
from consultations.privacy import contains_identity_code
from dialogs.cards import registry as cards
from dialogs.cards.base import Card, attachment
from dialogs.followup import FollowUpFlow
from dialogs.inputs import positive_id
from dialogs.poll import PollFlow
from dialogs.request import RequestFlow
from dialogs.settings import read_team_settings
from dialogs.summary import SummaryFlow

log = logging.getLogger(__name__)

CARD_RESPONSE = "application/vnd.microsoft.card.adaptive"
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
MAX_TEXT = 4_000
# Where CloudAdapter looks for a turn's invoke response (BotAdapter._INVOKE_RESPONSE_KEY).
INVOKE_RESPONSE_KEY = "BotFrameworkAdapter.InvokeResponse"

# Every language's command words work whatever the user's locale says.
COMMAND_WORDS: Mapping[str, str] = {
    "help": "help",
    "apua": "help",
    "ohje": "help",
    "hjälp": "help",
    "hjalp": "help",
    "?": "help",
    "profile": "profile",
    "profiili": "profile",
    "profil": "profile",
    "roles": "roles",
    "roolit": "roles",
    "roller": "roles",
    "deliveries": "deliveries",
    "toimitukset": "deliveries",
    "leveranser": "deliveries",
    "new": "new",
    "uusi": "new",
    "ny": "new",
    "my": "my",
    "omat": "my",
    "mina": "my",
    "drafts": "drafts",
    "luonnokset": "drafts",
    "utkast": "drafts",
    "settings": "settings",
    "asetukset": "settings",
    "inställningar": "settings",
    "installningar": "settings",
    "cases": "cases",
    "asiakkaat": "cases",
    "klienter": "cases",
    "queue": "queue",
    "jono": "queue",
    "kö": "queue",
    "ko": "queue",
}
_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)


@dataclass(frozen=True)
class CardAction:
    verb: str
    data: Mapping[str, Any]


_obj = json_obj
_str = json_str


def _activity_json(activity: Activity) -> dict[str, Any]:
    """An activity as Teams sent it (camelCase JSON), for the readers that take JSON."""
    serialized = activity.serialize()
    return serialized if isinstance(serialized, dict) else {}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


class TyokykyBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        admins: frozenset[str],
        connector: BotConnector,
        requests: RequestFlow,
        polls: PollFlow,
        summaries: SummaryFlow,
        follow_up: FollowUpFlow,
    ) -> None:
        super().__init__()
        self._connector = connector
        self._requests = requests
        self._polls = polls
        self._summaries = summaries
        self._follow_up = follow_up
        self._uow = uow_factory
        self._clock = clock
        self._admins = admins
        self._senders = SenderMemory(clock)

    # --- the turn ---------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type == "invoke" and activity.name == "adaptiveCard/action":
            # The SDK would hand the response to send_activity, which deep-copies the
            # whole card; the adapter only reads it from the turn state.
            response = await self.on_invoke_activity(turn_context)
            if turn_context.turn_state.get(INVOKE_RESPONSE_KEY) is None:
                turn_context.turn_state[INVOKE_RESPONSE_KEY] = Activity(
                    type=ActivityTypes.invoke_response, value=response
                )
            return
        await super().on_turn(turn_context)

    def _texts(self, turn_context: TurnContext, user: User | None = None) -> Texts:
        locale = turn_context.activity.locale or (user.locale if user else None)
        return texts_for(locale)

    async def _remember_sender(self, turn_context: TurnContext) -> User | None:
        return await self._record_sender(_activity_json(turn_context.activity))

    async def _record_sender(
        self, activity: Mapping[str, Any], *, cached: bool = False
    ) -> User | None:
        """Record the sender of an activity (as Teams describes them) and return them;
        None for an activity without a sender, or one from the bot itself.

        cached=True skips the database for a sender recorded moments ago exactly as they
        are now; the answer is then that earlier User: right for its id, not for fields a
        turn may have changed since (a profession)."""
        sender = _obj(activity, "from")
        sender_id = _str(sender, "id")
        if not sender_id or sender_id == _str(_obj(activity, "recipient"), "id"):
            return None
        conversation = _obj(activity, "conversation")
        personal = (_str(conversation, "conversationType") or "personal") == "personal"
        ref = account_ref(activity, sender)
        conversation_id = (_str(conversation, "id") or None) if personal else None
        if cached:
            known = self._senders.get(ref, conversation_id)
            if known is not None:
                return known
        user = await services.record_user(
            self._uow(), ref, self._clock.now(), personal_conversation_id=conversation_id
        )
        self._senders.put(ref, conversation_id, user)
        return user

    # --- messages ---------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        texts = self._texts(turn_context)
        text = activity.text if isinstance(activity.text, str) else ""
        if len(text) > MAX_TEXT:
            await turn_context.send_activity(texts("error.too_long", limit=MAX_TEXT))
            return
        # Refuse before anything of the message is stored or acted on.
        if any(contains_identity_code(s) for s in [text, *_strings(activity.value)]):
            await turn_context.send_activity(texts("error.identity_code"))
            return
        user = await self._remember_sender(turn_context)
        if user is None:
            return

        command = COMMAND_WORDS.get(_MENTION.sub("", text).strip().lower().rstrip(".!"))

        if isinstance(activity.value, dict) and activity.value.get("verb"):
            # An Action.Submit from a client without Universal Actions.
            try:
                card = await self._card_action(
                    turn_context, user, texts, self._parse_submit(activity.value)
                )
            except DomainError as error:
                await turn_context.send_activity(await self._refused(turn_context, error))
                return
            await self._replace_or_send(turn_context, card)
            return

        if command == "help":
            await turn_context.send_activity(
                MessageFactory.attachment(attachment(cards.help_card(texts)))
            )
        elif command == "profile":
            await turn_context.send_activity(
                MessageFactory.attachment(attachment(cards.profile_card(texts, user)))
            )
        elif command == "roles":
            await self._send_roles(turn_context, user, texts)
        elif command == "deliveries":
            await self._send_deliveries(turn_context, user, texts)
        elif command == "settings":
            await self._send_settings(turn_context, user, texts)
        elif command in ("new", "my", "drafts", "queue", "cases"):
            try:
                card = await self._request_command(command, user, texts)
            except DomainError as error:
                await turn_context.send_activity(await self._refused(turn_context, error))
                return
            await turn_context.send_activity(MessageFactory.attachment(attachment(card)))
        else:
            await turn_context.send_activity(texts("help.unknown"))

    async def _replace_or_send(self, turn_context: TurnContext, card: Card) -> None:
        activity = turn_context.activity
        if activity.reply_to_id:
            replacement = MessageFactory.attachment(attachment(card))
            replacement.id = activity.reply_to_id
            try:
                await turn_context.update_activity(replacement)
                return
            except Exception:  # noqa: BLE001 - some clients cannot update; send anew
                log.info(
                    "card update failed, sending a new card", extra={"activity_id": activity.id}
                )
        await turn_context.send_activity(MessageFactory.attachment(attachment(card)))

    # --- card actions -----------------------------------------------------------------

    @staticmethod
    def _parse_submit(value: Mapping[str, Any]) -> CardAction:
        verb = value.get("verb")
        return CardAction(verb if isinstance(verb, str) else "", value)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        return await self._answer_card_action(_activity_json(activity), turn_context)

    def answers_without_turn(self, verb: str) -> bool:
        """Whether a card action is a flow's, which needs nothing of the SDK's turn."""
        return any(
            verb in flow.verbs
            for flow in (self._requests, self._polls, self._summaries, self._follow_up)
        )

    async def answer_flow_action(self, activity: Mapping[str, Any]) -> InvokeResponse:
        """Answer a flow's Action.Execute straight from the activity's JSON.

        A card click is the hottest turn there is, and its answer travels in the HTTP
        response: it needs no connector client, no turn context and no conversation
        state, so the SDK's turn pipeline (most of a turn's cost) is skipped. The activity
        must already be checked and authenticated.
        """
        try:
            return await self._answer_card_action(activity, None)
        except Exception as error:  # what the adapter's on_turn_error does for a turn
            log.error(
                "turn failed: %s (activity %s, type invoke)",
                type(error).__name__,
                _str(activity, "id"),
                exc_info=(type(error), error, error.__traceback__),
            )
            return self._message_response(texts_for(_str(activity, "locale") or None)("error.turn"))

    async def _answer_card_action(
        self, activity: Mapping[str, Any], turn_context: TurnContext | None
    ) -> InvokeResponse:
        texts = texts_for(_str(activity, "locale") or None)
        action = _obj(_obj(activity, "value"), "action")
        data = _obj(action, "data")
        verb = _str(action, "verb")
        if any(contains_identity_code(s) for s in _strings(data)):
            # A request page answers with itself, the other inputs kept and the field
            # named; anything else with the refusal alone. Nothing is stored either way.
            try:
                page = await self._requests.refused_inputs(verb, texts, data)
            except DomainError:
                page = None
            if page is None:
                return self._message_response(texts("error.identity_code"))
            return InvokeResponse(
                status=int(HTTPStatus.OK),
                body={"statusCode": 200, "type": CARD_RESPONSE, "value": page},
            )
        user = await self._record_sender(activity, cached=turn_context is None)
        if user is None:
            return self._message_response(texts("error.invalid_input"))
        try:
            if turn_context is None:
                card = await self._flow_card(verb, user.id, texts, data)
            else:
                card = await self._card_action(turn_context, user, texts, CardAction(verb, data))
        except DomainError as error:
            return self._message_response(self._refusal(texts, error, _str(activity, "id")))
        return InvokeResponse(
            status=int(HTTPStatus.OK),
            body={"statusCode": 200, "type": CARD_RESPONSE, "value": card},
        )

    @staticmethod
    def _message_response(text: str) -> InvokeResponse:
        return InvokeResponse(
            status=int(HTTPStatus.OK),
            body={"statusCode": 200, "type": MESSAGE_RESPONSE, "value": text},
        )

    async def _card_action(
        self, turn_context: TurnContext, user: User, texts: Texts, action: CardAction
    ) -> Card:
        """Run one card action; return the card that replaces the one clicked.

        Raises DomainError (nothing changed) when the action is refused.
        """
        handlers: dict[
            str, Callable[[TurnContext, User, Texts, Mapping[str, Any]], Awaitable[Card]]
        ] = {
            "profile.open": self._action_profile_open,
            "profile.save": self._action_profile_save,
            "help.open": self._action_help,
            "role.claim": self._action_role_claim,
            "role.grant": self._action_role_change,
            "role.revoke": self._action_role_change,
            "deliveries.open": self._action_deliveries,
            "team.settings.save": self._action_settings_save,
        }
        handler = handlers.get(action.verb)
        if handler is None:
            return await self._flow_card(action.verb, user.id, texts, action.data)
        return await handler(turn_context, user, texts, {**action.data, "verb": action.verb})

    async def _flow_card(
        self, verb: str, user_id: int, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        for flow in (self._requests, self._polls, self._summaries, self._follow_up):
            card = await flow.handle(verb, user_id, texts, data)
            if card is not None:
                return card
        raise InvalidInput()

    async def _refused(self, turn_context: TurnContext, error: DomainError) -> str:
        return self._refusal(self._texts(turn_context), error, turn_context.activity.id)

    @staticmethod
    def _refusal(texts: Texts, error: DomainError, activity_id: str | None) -> str:
        log.info("card action refused: %s (activity %s)", error.code, activity_id)
        return texts(error.code, **error.params)

    async def _request_command(self, command: str, user: User, texts: Texts) -> Card:
        if command == "new":
            return await self._requests.start(user.id, texts)
        if command == "my":
            return await self._requests.my_requests(user.id, texts)
        if command == "drafts":
            return await self._requests.drafts(user.id, texts)
        if command == "cases":
            return await self._follow_up.cases(user.id, texts)
        return await self._requests.queue(user.id, texts)

    async def _action_help(
        self, turn_context: TurnContext, user: User, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        return cards.help_card(texts)

    async def _action_profile_open(
        self, turn_context: TurnContext, user: User, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        return cards.profile_card(texts, user)

    async def _action_profile_save(
        self, turn_context: TurnContext, user: User, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        value = data.get("profession")
        if not isinstance(value, str):
            raise DomainError("error.unknown_profession")
        # The card acts for whoever clicked it: the server decides whose profile changes.
        user.profession = await services.set_profession(
            self._uow(), user.id, value, self._clock.now()
        )
        return cards.profile_card(texts, user, saved=True)

    async def _action_role_claim(
        self, turn_context: TurnContext, user: User, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        team = await services.claim_coordinator(
            self._uow(), user.id, positive_id(data, "team_id"), self._admins, self._clock.now()
        )
        return cards.coordinator_claimed_card(texts, team, user.name)

    async def _action_role_change(
        self, turn_context: TurnContext, user: User, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        team_id = positive_id(data, "team_id")
        target = positive_id(data, "user_id")
        role_name = data.get("role")
        if role_name != Role.COORDINATOR.value:
            raise InvalidInput()
        change = services.grant_role if data["verb"] == "role.grant" else services.revoke_role
        await change(
            self._uow(), user.id, team_id, target, Role.COORDINATOR, self._admins, self._clock.now()
        )
        card = await self._roles_card(user, texts, team_id, notice=texts("roles.updated"))
        if card is None:
            raise NotAuthorised()
        return card

    async def _action_settings_save(
        self, turn_context: TurnContext, user: User, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        team = await services.update_team_settings(
            self._uow(),
            user.id,
            positive_id(data, "team_id"),
            read_team_settings(data),
            self._admins,
            self._clock.now(),
        )
        return cards.team_settings_card(texts, team, notice=texts("settings.saved"))

    async def _send_settings(self, turn_context: TurnContext, user: User, texts: Texts) -> None:
        async with self._uow() as uow:
            admin = services.is_admin(user, self._admins)
            teams = [
                team
                for team in (await uow.teams.all() if admin else await uow.teams.teams_of(user.id))
                if admin or Role.COORDINATOR in await uow.teams.roles_of(team.id, user.id)
            ]
        if not teams:
            await turn_context.send_activity(texts("error.settings_coordinators_only"))
            return
        for team in teams[:5]:
            card = cards.team_settings_card(texts, team)
            await turn_context.send_activity(MessageFactory.attachment(attachment(card)))

    async def _action_deliveries(
        self, turn_context: TurnContext, user: User, texts: Texts, data: Mapping[str, Any]
    ) -> Card:
        return await self._deliveries_card(user, texts)

    # --- views ------------------------------------------------------------------------

    async def _roles_card(
        self, user: User, texts: Texts, team_id: int, notice: str = ""
    ) -> Card | None:
        async with self._uow() as uow:
            team = await uow.teams.get(team_id)
            if team is None:
                return None
            admin = services.is_admin(user, self._admins)
            if not admin and not await uow.teams.is_member(team_id, user.id):
                return None
            can_manage = admin or Role.COORDINATOR in await uow.teams.roles_of(team_id, user.id)
            members = [
                (member, await uow.teams.roles_of(team_id, member.id))
                for member in await uow.teams.members(team_id)
            ]
            await uow.audit.record(
                at=self._clock.now(),
                actor_user_id=user.id,
                action="roles.viewed",
                subject_type="team",
                subject_id=str(team_id),
                team_id=team_id,
            )
            await uow.commit()
        return cards.roles_card(texts, team, members, can_manage=can_manage, notice=notice)

    async def _send_roles(self, turn_context: TurnContext, user: User, texts: Texts) -> None:
        async with self._uow() as uow:
            teams = (
                await uow.teams.all()
                if services.is_admin(user, self._admins)
                else await uow.teams.teams_of(user.id)
            )
        if not teams:
            await turn_context.send_activity(texts("roles.no_teams"))
            return
        for team in teams[:5]:
            card = await self._roles_card(user, texts, team.id)
            if card is not None:
                await turn_context.send_activity(MessageFactory.attachment(attachment(card)))

    async def _deliveries_card(self, user: User, texts: Texts) -> Card:
        async with self._uow() as uow:
            if services.is_admin(user, self._admins):
                team_ids: list[int] | None = None
            else:
                team_ids = [
                    team.id
                    for team in await uow.teams.teams_of(user.id)
                    if Role.COORDINATOR in await uow.teams.roles_of(team.id, user.id)
                ]
                if not team_ids:
                    raise NotAuthorised()
            failures = await uow.outbox.failures(team_ids)
        return cards.deliveries_card(texts, failures)

    async def _send_deliveries(self, turn_context: TurnContext, user: User, texts: Texts) -> None:
        try:
            card = await self._deliveries_card(user, texts)
        except NotAuthorised:
            await turn_context.send_activity(texts("error.deliveries_admins_only"))
            return
        await turn_context.send_activity(MessageFactory.attachment(attachment(card)))

    # --- installation and membership --------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        # Teams announces an installation twice: installationUpdate, then conversationUpdate
        # with the bot among the members added. The first one greets; both record.
        await self._installed(turn_context, greet=True)

    async def on_teams_members_added(
        self, teams_members_added: list[Any], team_info: Any, turn_context: TurnContext
    ) -> None:
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        if any(m.id == bot_id for m in teams_members_added):
            await self._installed(turn_context, greet=False)
        elif team_info is not None:
            await self._sync_team(turn_context, greet=False)

    async def on_teams_members_removed(
        self, teams_members_removed: list[Any], team_info: Any, turn_context: TurnContext
    ) -> None:
        if team_info is not None:
            await self._sync_team(turn_context, greet=False)

    async def _installed(self, turn_context: TurnContext, *, greet: bool) -> None:
        activity = turn_context.activity
        conversation_type = (
            activity.conversation.conversation_type if activity.conversation else None
        )
        if conversation_type == "channel":
            await self._sync_team(turn_context, greet=greet)
            return
        user = await self._remember_sender(turn_context)
        if user is None or not greet or conversation_type not in (None, "personal"):
            return
        texts = self._texts(turn_context, user)
        await turn_context.send_activity(
            MessageFactory.attachment(attachment(cards.personal_welcome_card(texts, user.name)))
        )

    async def _sync_team(self, turn_context: TurnContext, *, greet: bool) -> None:
        activity = turn_context.activity
        activity_json = _activity_json(activity)
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team_data = _obj(channel_data, "team")
        teams_team_id = _str(team_data, "id")
        if not teams_team_id:
            return
        bot_id = activity.recipient.id if activity.recipient else None
        service_url = activity.service_url or ""
        roster: list[UserRef] = []
        token: str | None = None
        for _page in range(100):  # 100 pages of up to 500 members is more than any team
            members, token = await self._connector.paged_members(service_url, teams_team_id, token)
            roster.extend(account_ref(activity_json, m) for m in members if m.get("id") != bot_id)
            if not token:
                break
        try:
            channels = await self._connector.team_channels(service_url, teams_team_id)
        except DeliveryFailure:
            # The channel list is a nicety; the roster is not.
            log.info("team channels unavailable (activity %s)", activity.id)
            channels = []
        name = _str(team_data, "name")
        installer = activity.from_property
        installation = TeamInstallation(
            teams_team_id=teams_team_id,
            name=name or teams_team_id,
            tenant_id=(activity.conversation.tenant_id or "") if activity.conversation else "",
            service_url=activity.service_url or "",
            general_channel_id=teams_team_id,
            channels=tuple(channels),
            roster=tuple(roster),
        )
        team, _installer, offer = await services.record_team_installation(
            self._uow(),
            installation,
            account_ref(activity_json, _obj(activity_json, "from"))
            if greet and installer and installer.id
            else None,
            self._clock.now(),
        )
        if not greet:
            return
        texts = self._texts(turn_context)
        await turn_context.send_activity(
            MessageFactory.attachment(attachment(cards.team_welcome_card(texts, team, offer)))
        )
