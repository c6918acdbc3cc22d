"""The one dispatcher: every activity that passed the edge comes here, and goes by its type,
invoke name, card verb or command word to one flow, whose answer is a card or a text in
the HTTP response (invokes) or one reply through the project's connector (messages).

What may show client details goes only to the person's 1:1 chat: a private command typed
in a channel or a group chat answers there with a pointer and sends its card to the 1:1
chat; a card action that comes from a non-personal conversation is refused unless its
verb is public (or a button that opens a flow privately, such as "New request").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.delivery import PersonalChats
from bot.edge.activity import (
    card_action,
    command_text,
    is_personal,
    json_obj,
    json_str,
    sender,
    strings,
    submitted,
)
from bot.edge.connector import BotConnector
from bot.edge.replies import ReplySender, TurnReplies, Where
from bot.i18n import LANGUAGES, Texts, catalog, texts_for
from bot.installation import Installations
from bot.senders import SenderMemory
from consultations import services
from consultations.delivery import DeliveryFailure
from consultations.errors import DomainError, InvalidInput
from consultations.model import User
from consultations.ports import Clock, UnitOfWork
from consultations.privacy import contains_identity_code
from dialogs.cards.base import Card, attachment
from dialogs.commands import COMMANDS, CommandSpec
from dialogs.flow import Action, CardFlow, CommandAction, Reply, Search, SearchQuery

log = logging.getLogger(__name__)

CARD_RESPONSE = "application/vnd.microsoft.card.adaptive"
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
SEARCH_INVOKE = "application/search"
SEARCH_RESPONSE = "application/vnd.microsoft.search.searchResponse"
MAX_TEXT = 4_000
# Teams shows at most 15 typeahead choices; nobody is helped by more.
MAX_SEARCH_RESULTS = 15
MAX_SEARCH_TEXT = 100


@dataclass(frozen=True)
class Answer:
    """What the HTTP edge answers Teams with."""

    status: int = 200
    body: Any = None
    # For the metrics: ok, refused (a DomainError told to the user) or error.
    outcome: str = "ok"

    @classmethod
    def card(cls, card: Card) -> Answer:
        return cls(200, {"statusCode": 200, "type": CARD_RESPONSE, "value": card})

    @classmethod
    def message(cls, text: str, outcome: str = "ok") -> Answer:
        return cls(200, {"statusCode": 200, "type": MESSAGE_RESPONSE, "value": text}, outcome)

    @classmethod
    def search(cls, found: Sequence[tuple[str, str]], outcome: str = "ok") -> Answer:
        results = [{"title": title, "value": value} for title, value in found]
        body = {"statusCode": 200, "type": SEARCH_RESPONSE, "value": {"results": results}}
        return cls(200, body, outcome)


class Refusal(str):
    """A text that says no (a DomainError, localized): nothing was changed."""


def _as_list(result: Reply | Sequence[Reply]) -> list[Reply]:
    if isinstance(result, str | dict):
        return [result]
    return list(result)


def message_activity(content: Reply) -> dict[str, Any]:
    if isinstance(content, str):
        return {"type": "message", "text": content}
    return {"type": "message", "attachments": [attachment(content)]}


def _within(value: Any, low: int, high: int, default: int) -> int:
    """A number from the activity, if it is a whole number in [low, high]."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return default


def command_words(specs: Sequence[CommandSpec]) -> dict[str, str]:
    """Every word that runs a command, in every language, whatever the user's own."""
    words: dict[str, str] = {}
    for spec in specs:
        found = {catalog(language).messages.get(spec.word_key, "") for language in LANGUAGES}
        for word in {w.lower() for w in found if w} | set(spec.synonyms):
            if words.setdefault(word, spec.name) != spec.name:
                raise ValueError(f"the word {word!r} runs both {words[word]} and {spec.name}")
    return words


class ActivityDispatcher:
    def __init__(
        self,
        *,
        flows: Sequence[CardFlow],
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        connector: BotConnector,
        replies: ReplySender,
        chats: PersonalChats,
        senders: SenderMemory,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._connector = connector
        self._replies = replies
        self._chats = chats
        self._senders = senders
        self._verbs: dict[str, Action] = {}
        self._owners: dict[str, CardFlow] = {}
        self._public: set[str] = set()
        self._redirect: set[str] = set()
        self._commands: dict[str, CommandAction] = {}
        self._datasets: dict[str, Search] = {}
        for flow in flows:
            for dataset, search in flow.datasets().items():
                if self._datasets.setdefault(dataset, search) is not search:
                    raise ValueError(f"two flows answer the dataset {dataset}")
            for verb, action in flow.verbs.items():
                if verb in self._verbs:
                    raise ValueError(f"two flows answer the verb {verb}")
                self._verbs[verb] = action
                self._owners[verb] = flow
            self._public |= flow.public_verbs
            self._redirect |= flow.redirect_verbs
            self._commands.update(flow.commands())
        names = {spec.name for spec in COMMANDS}
        if set(self._commands) != names:
            raise ValueError(
                f"commands without a handler or help line: {names ^ set(self._commands)}"
            )
        self._specs = {spec.name: spec for spec in COMMANDS}
        self._words = command_words(COMMANDS)
        self.installations = Installations(
            connector=connector,
            uow_factory=uow_factory,
            clock=clock,
            record_sender=self.record_sender,
            texts=texts_for,
        )

    def answers(self, verb: str) -> bool:
        return verb in self._verbs

    def scopes(self) -> dict[str, str]:
        """Every card verb the flows answer, and where it runs: "public" (any
        conversation), "redirect" (elsewhere than a 1:1 chat it answers with a pointer and
        sends its card to the person's 1:1 chat) or "private" (refused outside 1:1 chats)."""
        return {
            verb: "redirect"
            if verb in self._redirect
            else "public"
            if verb in self._public
            else "private"
            for verb in self._verbs
        }

    # --- the turn -----------------------------------------------------------------------

    async def dispatch(self, activity: Mapping[str, Any]) -> Answer:
        """Answer one checked, authenticated activity; never raises."""
        kind = json_str(activity, "type")
        try:
            if kind == "message":
                return await self._message(activity)
            if kind == "invoke":
                return await self._invoke(activity)
            if kind in ("conversationUpdate", "installationUpdate"):
                replies = self._turn(activity)
                await self.installations.handle(
                    activity, lambda card: self._say(activity, replies, card)
                )
                return self._done(activity, replies)
            # Typing, reactions, events: nothing to do, and nothing to say.
            return Answer()
        except Exception as error:  # the turn fails, the bot goes on
            log.error(
                "turn failed: %s (activity %s, type %s)",
                type(error).__name__,
                json_str(activity, "id"),
                kind,
                exc_info=(type(error), error, error.__traceback__),
            )
            texts = self.texts(activity, self._remembered(activity))
            if kind == "invoke":
                return Answer.message(texts("error.turn"), "error")
            if kind == "message":
                try:
                    await self._say(activity, self._turn(activity), texts("error.turn"))
                except Exception:  # noqa: BLE001 - nothing more to tell if even this fails
                    log.warning("could not tell the user about the failure")
            return Answer(outcome="error")

    def _turn(self, activity: Mapping[str, Any]) -> TurnReplies:
        conversation = json_obj(activity, "conversation")
        where = Where(
            service_url=json_str(activity, "serviceUrl"),
            conversation_id=json_str(conversation, "id"),
            tenant=json_str(conversation, "tenantId")
            or json_str(json_obj(json_obj(activity, "channelData"), "tenant"), "id"),
            reply_to=json_str(activity, "id") or None,
        )
        key = f"reply:{where.conversation_id}:{json_str(activity, 'id')}"
        collect = json_str(activity, "deliveryMode") == "expectReplies"
        return TurnReplies(self._replies, where, key, collect=collect)

    @staticmethod
    def _done(activity: Mapping[str, Any], replies: TurnReplies) -> Answer:
        if replies.collected is not None:
            return Answer(200, {"activities": replies.collected})
        return Answer()

    async def _say(
        self,
        activity: Mapping[str, Any],
        replies: TurnReplies,
        content: Reply,
        where: Where | None = None,
    ) -> None:
        reply = message_activity(content)
        if where is None:
            reply.update(
                {
                    "from": json_obj(activity, "recipient"),
                    "recipient": json_obj(activity, "from"),
                    "conversation": {"id": replies.where.conversation_id},
                    "replyToId": json_str(activity, "id"),
                }
            )
        await replies.send(reply, where)

    def texts(self, activity: Mapping[str, Any], user: User | None) -> Texts:
        """The user's chosen language, else what their Teams says now, else what it said."""
        if user is not None and user.language:
            return texts_for(user.language)
        return texts_for(json_str(activity, "locale") or (user.locale if user else None))

    def _remembered(self, activity: Mapping[str, Any]) -> User | None:
        ref = sender(activity)
        return self._senders.remembered(ref.teams_user_id) if ref else None

    async def _unrecorded_texts(self, activity: Mapping[str, Any]) -> Texts:
        """The language of a turn that may be refused before its sender is recorded (an
        identity code, a text too long: nothing of it is stored): the one the sender
        chose, read without writing anything, else their client's."""
        user = self._remembered(activity)
        ref = sender(activity)
        if user is None and ref is not None:
            async with self._uow() as uow:
                user = await uow.users.by_teams_id(ref.teams_user_id)
        return self.texts(activity, user)

    async def record_sender(self, activity: Mapping[str, Any]) -> User | None:
        """Record who sent the activity (name, language, 1:1 chat) and return them; a
        sender recorded moments ago exactly as they are now costs no database work."""
        ref = sender(activity)
        if ref is None:
            return None
        personal = is_personal(activity)
        conversation_id = json_str(json_obj(activity, "conversation"), "id") if personal else None
        known = self._senders.get(ref, conversation_id or None)
        if known is not None:
            return known
        user = await services.record_user(
            self._uow(), ref, self._clock.now(), personal_conversation_id=conversation_id or None
        )
        self._senders.put(ref, conversation_id or None, user)
        return user

    # --- messages: typed commands and Action.Submit -------------------------------------

    async def _message(self, activity: Mapping[str, Any]) -> Answer:
        replies = self._turn(activity)
        text = json_str(activity, "text")
        if len(text) > MAX_TEXT:
            texts = await self._unrecorded_texts(activity)
            await self._say(activity, replies, texts("error.too_long", limit=MAX_TEXT))
            return self._done(activity, replies)
        # Refused before anything of the message is stored or acted on.
        if any(contains_identity_code(s) for s in [text, *strings(activity.get("value"))]):
            texts = await self._unrecorded_texts(activity)
            action = submitted(activity)
            page = await self._screened(activity, action[0], texts, action[1]) if action else None
            if page is not None:
                await self._replace(activity, replies, page)
            else:
                await self._say(activity, replies, Refusal(texts("error.identity_code")))
            answer = self._done(activity, replies)
            return Answer(answer.status, answer.body, "refused")
        user = await self.record_sender(activity)
        if user is None:
            return Answer()
        texts = self.texts(activity, user)
        action = submitted(activity)
        outcome = "ok"
        if action is not None:
            result = await self._card_action(activity, user, texts, *action)
            if isinstance(result, str):
                await self._say(activity, replies, result)
                outcome = "refused" if isinstance(result, Refusal) else "ok"
            else:
                await self._replace(activity, replies, result)
        else:
            outcome = await self._command(activity, user, texts, replies)
        answer = self._done(activity, replies)
        return Answer(answer.status, answer.body, outcome)

    async def _command(
        self, activity: Mapping[str, Any], user: User, texts: Texts, replies: TurnReplies
    ) -> str:
        """Run a typed command; return the outcome (ok, refused)."""
        word, _, args = command_text(activity).partition(" ")
        name = self._words.get(word.lower().rstrip(".!"))
        spec = self._specs.get(name or "")
        if spec is None or (args.strip() and not spec.takes_args):
            await self._say(activity, replies, texts("help.unknown"))
            return "refused"
        try:
            result = _as_list(await self._commands[spec.name](user.id, texts, args.strip()))
        except DomainError as error:
            await self._say(activity, replies, self._refusal(texts, error, activity))
            return "refused"
        if spec.name == "language":
            self._senders.forget(user.teams_user_id)
        if spec.private and not is_personal(activity):
            for item in result:
                await self._to_user(activity, user, replies, item)
            await self._say(activity, replies, texts("scope.sent_privately"))
            return "ok"
        for item in result:
            await self._say(activity, replies, item)
        return "ok"

    async def _replace(self, activity: Mapping[str, Any], replies: TurnReplies, card: Card) -> None:
        """An Action.Submit's answer replaces the card clicked; a client that cannot update
        gets it as a new message."""
        clicked = json_str(activity, "replyToId")
        if clicked and replies.collected is None:
            try:
                await self._connector.update(
                    replies.where.service_url,
                    replies.where.conversation_id,
                    clicked,
                    message_activity(card),
                )
                return
            except DeliveryFailure as failure:
                log.info("card update failed (%s), sending a new card", failure.detail)
        await self._say(activity, replies, card)

    async def _to_user(
        self, activity: Mapping[str, Any], user: User, replies: TurnReplies, content: Reply
    ) -> None:
        """To the person's 1:1 chat, opened when there is none yet."""
        try:
            conversation_id = await self._chats.conversation_of(user)
        except DeliveryFailure:
            conversation_id = ""  # the outbox opens it later
        where = Where(
            service_url=user.service_url or json_str(activity, "serviceUrl"),
            conversation_id=conversation_id,
            tenant=user.tenant_id,
            user_id=user.id,
        )
        await self._say(activity, replies, content, where)

    # --- invokes: Action.Execute and the rest ------------------------------------------

    async def _invoke(self, activity: Mapping[str, Any]) -> Answer:
        name = json_str(activity, "name")
        if name == SEARCH_INVOKE:
            return await self._search(activity)
        if name != "adaptiveCard/action":
            # Teams sends other invokes (message extensions, tabs, sign-in) only to apps
            # that declare them; this one declares none. An empty 200 acknowledges.
            log.info("invoke %s not handled (activity %s)", name[:64], json_str(activity, "id"))
            return Answer(200, {})
        verb, data = card_action(activity)
        if any(contains_identity_code(s) for s in strings(data)):
            texts = await self._unrecorded_texts(activity)
            page = await self._screened(activity, verb, texts, data)
            if page is not None:
                return Answer(200, Answer.card(page).body, "refused")
            return Answer.message(texts("error.identity_code"), "refused")
        user = await self.record_sender(activity)
        if user is None:
            # No sender (or the bot itself): nobody whose choice could count.
            return Answer.message(
                texts_for(json_str(activity, "locale") or None)("error.invalid_input")
            )
        texts = self.texts(activity, user)
        result = await self._card_action(activity, user, texts, verb, data)
        if isinstance(result, str):
            return Answer.message(result, "refused" if isinstance(result, Refusal) else "ok")
        return Answer.card(result)

    async def _search(self, activity: Mapping[str, Any]) -> Answer:
        """Typeahead: the flow that declared the dataset answers from the server's data.
        An unknown dataset, a refusal or an identity code typed answers no choices."""
        value = json_obj(activity, "value")
        name, _, scope = json_str(value, "dataset").partition(":")
        search = self._datasets.get(name)
        text = json_str(value, "queryText")[:MAX_SEARCH_TEXT]
        data = json_obj(value, "data")
        if search is None or any(contains_identity_code(s) for s in [text, *strings(data)]):
            return Answer.search([], "refused")
        user = await self.record_sender(activity)
        if user is None:
            return Answer.search([], "refused")
        options = json_obj(value, "queryOptions")
        query = SearchQuery(
            text=text,
            scope=scope,
            data=data,
            top=_within(options.get("top"), 1, MAX_SEARCH_RESULTS, MAX_SEARCH_RESULTS),
            skip=_within(options.get("skip"), 0, 1_000, 0),
        )
        try:
            found = await search(user.id, self.texts(activity, user), query)
        except DomainError as error:
            log.info("search refused: %s (activity %s)", error.code, json_str(activity, "id"))
            return Answer.search([], "refused")
        return Answer.search(found[: query.top])

    async def _screened(
        self, activity: Mapping[str, Any], verb: str, texts: Texts, data: Mapping[str, Any]
    ) -> Card | None:
        """A card refused for an identity code in it: the flow's card with the other
        inputs kept and the field named, or None for the refusal alone. Nothing stored.
        Outside a 1:1 chat always the refusal alone: the card would repeat what was typed
        (client details) where others read."""
        flow = self._owners.get(verb)
        if flow is None or not is_personal(activity):
            return None
        try:
            return await flow.refused_inputs(verb, texts, data)
        except DomainError:
            return None

    async def _card_action(
        self,
        activity: Mapping[str, Any],
        user: User,
        texts: Texts,
        verb: str,
        data: Mapping[str, Any],
    ) -> Card | str:
        """The card that replaces the one clicked, or a refusal (nothing changed)."""
        action = self._verbs.get(verb)
        try:
            if action is None:
                raise InvalidInput()
            if verb in self._redirect and not is_personal(activity):
                card = await action(user.id, texts, data)
                await self._to_user(activity, user, self._turn(activity), card)
                return texts("scope.sent_privately")
            if verb not in self._public and not is_personal(activity):
                return Refusal(texts("error.private_only"))
            card = await action(user.id, texts, data)
        except DomainError as error:
            return self._refusal(texts, error, activity)
        if verb.startswith("language."):
            self._senders.forget(user.teams_user_id)
        return card

    @staticmethod
    def _refusal(texts: Texts, error: DomainError, activity: Mapping[str, Any]) -> Refusal:
        log.info("refused: %s (activity %s)", error.code, json_str(activity, "id"))
        return Refusal(texts(error.code, **error.params))
