"""create_app(settings): the one place where everything is wired together."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import holidays
import orjson
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from botbuilder.core import ConversationState, TurnContext, serializer_helper
from botbuilder.core.invoke_response import InvokeResponse
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    CallerIdConstants,
    MicrosoftAppCredentials,
)
from msrest.serialization import Model
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.connector import BotConnector
from bot.delivery import ConnectorSender
from bot.handler import TyokykyBot
from bot.i18n import texts_for
from bot.ics import meeting_ics, meeting_uid
from bot.links import LinkSigner, signing_key
from bot.metrics import Metrics, serve_metrics, turn_middleware
from bot.ratelimit import RateLimiter
from bot.sdk_cache import CachingAuthentication
from bot.settings import Settings
from bot.state import DatabaseStorage
from consultations import services
from consultations.calendar import BusinessCalendar
from consultations.delivery import RetryPolicy
from consultations.poll import PollState
from consultations.ports import Clock
from dialogs.cards.base import json_bytes
from dialogs.followup import FollowUpFlow
from dialogs.poll import PollFlow
from dialogs.request import RequestFlow
from scheduler.dispatcher import Dispatcher
from scheduler.runner import build_scheduler
from storage.db import create_engine, session_factory
from storage.delivery_queue import SqlAlchemyDeliveryQueue
from storage.documents import ETagConflict, SqlAlchemyDocumentStore
from storage.migrate import upgrade
from storage.polls import PollShapes
from storage.uow import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)
HELSINKI = ZoneInfo("Europe/Helsinki")
MAX_BODY_BYTES = 256 * 1024
ICS_SECRET_KEY = "secret:ics"


def finnish_calendar() -> BusinessCalendar:
    """Working days and hours in Finland, with the public holidays of the `holidays` package
    (Midsummer Eve and Christmas Eve included) for the years a case can span."""
    this_year = datetime.now(UTC).year
    years = range(this_year - 1, this_year + 6)
    return BusinessCalendar(holidays=frozenset(holidays.country_holidays("FI", years=years)))


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Components:
    """What a running app holds; tests reach in here to drive the scheduler by hand."""

    engine: AsyncEngine
    adapter: CloudAdapter
    bot: TyokykyBot
    dispatcher: Dispatcher
    uow_factory: Callable[[], SqlAlchemyUnitOfWork]
    http: aiohttp.ClientSession
    clock: Clock
    ics_secret: bytes
    links: LinkSigner
    metrics: Metrics


COMPONENTS = web.AppKey("components", Components)
SETTINGS = web.AppKey("settings", Settings)


class _BotConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password
        # Without credentials the SDK must not look for a tenant: anonymous is "MultiTenant".
        self.APP_TYPE = settings.app_type if settings.authenticated else "MultiTenant"
        self.APP_TENANTID = settings.app_tenant_id
        if settings.openid_metadata_url:
            # Setting any endpoint makes the SDK use its parameterized authentication, which
            # then needs every public-cloud value spelled out (an issuer of None refuses
            # every valid token).
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.openid_metadata_url
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = (
                AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
            )
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = (
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
            )
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = (
                AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
                + (settings.app_tenant_id or "botframework.com")
            )
            self.OAUTH_URL = AuthenticationConstants.OAUTH_URL
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = (
                AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
            )
            self.CALLER_ID = CallerIdConstants.public_azure_channel


def _token_provider(settings: Settings) -> Callable[[], Any]:
    if not settings.authenticated:

        async def no_token() -> str | None:
            return None

        return no_token
    credentials = MicrosoftAppCredentials(
        settings.app_id,
        settings.app_password,
        channel_auth_tenant=settings.app_tenant_id if settings.app_type == "SingleTenant" else None,
    )

    async def token() -> str | None:
        # MSAL is synchronous and caches the token; keep it off the event loop.
        return await asyncio.to_thread(credentials.get_access_token)

    return token


def _json_loads(raw: bytes) -> Any:
    """json.loads, faster: orjson first; what orjson refuses and the json module reads
    (an integer beyond 64 bits in a tampered payload) still reads the same."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _bad_request(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _activity_problem(data: Any) -> str | None:
    """Why an incoming activity's JSON is refused, or None when its shape is right."""
    if not isinstance(data, dict):
        return "activity must be a JSON object"
    for key in ("type", "serviceUrl", "channelId"):
        if not isinstance(data.get(key), str) or not data[key]:
            return f"activity needs a string {key}"
    for key in ("conversation", "from", "recipient"):
        value = data.get(key)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            return f"activity needs {key}.id"
    for key in ("text", "locale", "name", "id", "replyToId", "textFormat"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            return f"{key} must be a string"
    for key in ("channelData",):
        if key in data and data[key] is not None and not isinstance(data[key], dict):
            return f"{key} must be an object"
    for key in ("membersAdded", "membersRemoved", "attachments", "entities"):
        value = data.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, dict) for v in value)
        ):
            return f"{key} must be a list of objects"
    return None


def _validate_activity(data: Any) -> Activity | str:
    """Check the shape of an incoming activity; return it, or why it is refused."""
    problem = _activity_problem(data)
    if problem is not None:
        return problem
    try:
        activity = Activity().deserialize(data)
    except Exception:  # noqa: BLE001 - msrest raises many kinds; all mean a bad activity
        return "activity does not deserialize"
    return activity


def _flow_action_verb(data: Any) -> str | None:
    """The verb of an Action.Execute, or None when the activity is anything else."""
    if not isinstance(data, dict) or data.get("type") != "invoke":
        return None
    if data.get("name") != "adaptiveCard/action":
        return None
    value = data.get("value")
    action = value.get("action") if isinstance(value, dict) else None
    verb = action.get("verb") if isinstance(action, dict) else None
    return verb if isinstance(verb, str) else None


async def _authenticate(
    components: Components, activity: Activity, auth_header: str | None
) -> AuthenticateRequestResult | None:
    """The request's authentication, or None when it is refused."""
    try:
        return await components.adapter.bot_framework_authentication.authenticate_request(
            activity, auth_header
        )
    except Exception as error:  # noqa: BLE001 - the SDK raises many kinds for a bad token
        log.info("request refused: %s (activity %s)", type(error).__name__, activity.id)
        return None


async def _messages(request: web.Request) -> web.StreamResponse:
    components = request.app[COMPONENTS]
    if request.content_type != "application/json":
        return _bad_request("content type must be application/json", 415)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _bad_request("activity too large", 413)
    try:
        data = _json_loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _bad_request("body is not JSON")
    # The SDK treats only None as "no header"; "" would crash its validation.
    auth_header = request.headers.get("Authorization")
    verb = _flow_action_verb(data)
    if verb is not None and components.bot.answers_without_turn(verb):
        problem = _activity_problem(data)
        if problem is not None:
            return _bad_request(problem)
        # What the authentication reads of an activity; the rest stays JSON.
        claimed = Activity(
            type=data["type"],
            id=data.get("id"),
            channel_id=data["channelId"],
            service_url=data["serviceUrl"],
        )
        if await _authenticate(components, claimed, auth_header) is None:
            return _bad_request("unauthorized", 401)
        return _http_response(await components.bot.answer_flow_action(data))
    activity = _validate_activity(data)
    if isinstance(activity, str):
        return _bad_request(activity)
    authenticated = await _authenticate(components, activity, auth_header)
    if authenticated is None:
        return _bad_request("unauthorized", 401)
    invoke_response = await components.adapter.process_activity(
        authenticated, activity, components.bot.on_turn
    )
    return _http_response(invoke_response)


def _http_response(invoke_response: InvokeResponse | None) -> web.Response:
    """Serialise an invoke response.

    botbuilder 4.17.1's CloudAdapter.process runs every body through msrest's serializer,
    which fails on a plain dict ("'dict' object has no attribute 'is_xml_model'") - and a
    card returned from Action.Execute is a plain dict. Models still go through msrest.
    """
    if invoke_response is None:
        return web.Response(status=200)
    body = invoke_response.body
    if isinstance(body, Model):
        body = serializer_helper(body)
    if body is None:
        return web.Response(status=invoke_response.status)
    # orjson: a card's JSON is most of the work of answering a card click.
    return web.Response(
        body=json_bytes(body), status=invoke_response.status, content_type="application/json"
    )


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    components = request.app.get(COMPONENTS)
    if components is None:
        return web.json_response({"status": "starting"}, status=503)
    try:
        async with components.engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text("SELECT 1")), timeout=5)
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        log.warning("database not reachable: %s", type(error).__name__)
        return web.json_response({"status": "database unreachable"}, status=503)
    return web.json_response({"status": "ready"})


async def _ics_secret(store: SqlAlchemyDocumentStore, now: datetime) -> bytes:
    """The key that signs .ics links, shared by every instance through the database."""
    for _attempt in range(3):
        found = await store.read([ICS_SECRET_KEY])
        if ICS_SECRET_KEY in found:
            return bytes.fromhex(json.loads(found[ICS_SECRET_KEY][0])["key"])
        try:
            await store.write(
                {ICS_SECRET_KEY: (json.dumps({"key": secrets.token_hex(32)}), None)}, now
            )
        except ETagConflict:
            continue  # another instance created it first: read theirs
    raise RuntimeError("could not establish the .ics signing key")


def _ics_token(secret: bytes, poll_id: int, user_id: int) -> str:
    return hmac.new(secret, f"{poll_id}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def ics_link(settings: Settings, secret: bytes, poll_id: int, user_id: int) -> str:
    """An unguessable link to one attendee's copy of the meeting's .ics."""
    token = _ics_token(secret, poll_id, user_id)
    return f"{settings.base_url()}/ics/{poll_id}/{user_id}/{token}.ics"


async def _ics(request: web.Request) -> web.Response:
    components = request.app[COMPONENTS]
    try:
        poll_id = int(request.match_info["poll_id"])
        user_id = int(request.match_info["user_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    expected = _ics_token(components.ics_secret, poll_id, user_id)
    if not hmac.compare_digest(expected, request.match_info["token"]):
        raise web.HTTPNotFound()
    async with components.uow_factory() as uow:
        poll = await uow.polls.get(poll_id)
        case = await uow.consultations.get(poll.consultation_id) if poll else None
    slot = poll.chosen_slot if poll else None
    if poll is None or case is None or slot is None:
        raise web.HTTPNotFound()
    texts = texts_for(None)
    body = meeting_ics(
        uid=meeting_uid(case.id or 0, poll_id),
        sequence=poll.sequence,
        start=slot.start,
        minutes=slot.minutes,
        summary=texts("ics.summary", case_number=case.case_number or ""),
        description=texts("ics.description", case_number=case.case_number or ""),
        location=poll.place,
        organizer_name=texts("ics.organizer"),
        attendees=[i.name for i in poll.invitees],
        method="CANCEL" if poll.state is PollState.CANCELLED else "REQUEST",
        now=components.clock.now(),
    )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{case.case_number}.ics"'},
    )


def _make_error_handler(adapter: CloudAdapter) -> Callable[[TurnContext, Exception], Any]:
    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        activity = turn_context.activity
        # Ids only: the text of cards and messages never goes to the log.
        log.error(
            "turn failed: %s (activity %s, type %s)",
            type(error).__name__,
            activity.id,
            activity.type,
            exc_info=(type(error), error, error.__traceback__),
        )
        if activity.type == "invoke":
            turn_context.turn_state[adapter._INVOKE_RESPONSE_KEY] = Activity(
                type="invokeResponse",
                value=InvokeResponse(
                    status=200,
                    body={
                        "statusCode": 200,
                        "type": "application/vnd.microsoft.activity.message",
                        "value": texts_for(activity.locale)("error.turn"),
                    },
                ),
            )
            return
        try:
            await turn_context.send_activity(texts_for(activity.locale)("error.turn"))
        except Exception:  # noqa: BLE001 - nothing more to tell if even this fails
            log.warning("could not tell the user about the failure (activity %s)", activity.id)

    return on_turn_error


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the aiohttp application. Nothing touches the database until it starts."""
    clock = clock or SystemClock()
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    metrics = Metrics(clock.now)
    if settings.metrics_port is not None:
        app.middlewares.append(turn_middleware(metrics))
        serve_metrics(
            app, metrics, settings.metrics_host, settings.metrics_port, settings.metrics_token
        )

    async def start(app: web.Application) -> None:
        calendar = finnish_calendar()
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        sessions = session_factory(engine)
        metrics.watch_database(engine)

        poll_shapes = PollShapes()

        def uow_factory() -> SqlAlchemyUnitOfWork:
            return SqlAlchemyUnitOfWork(sessions, poll_shapes)

        storage = DatabaseStorage(SqlAlchemyDocumentStore(sessions), clock.now)
        adapter = CloudAdapter(
            CachingAuthentication(ConfigurationBotFrameworkAuthentication(_BotConfig(settings)))
        )
        adapter.on_turn_error = _make_error_handler(adapter)
        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, limit_per_host=50, keepalive_timeout=60)
        )
        connector = BotConnector(http, _token_provider(settings))
        bot = TyokykyBot(
            uow_factory=uow_factory,
            conversation_state=ConversationState(storage),
            clock=clock,
            admins=settings.admins,
            connector=connector,
            requests=RequestFlow(uow_factory=uow_factory, clock=clock, calendar=calendar),
            polls=PollFlow(uow_factory=uow_factory, clock=clock, calendar=calendar),
            follow_up=FollowUpFlow(uow_factory=uow_factory, clock=clock, calendar=calendar),
        )
        ics_secret = await _ics_secret(SqlAlchemyDocumentStore(sessions), clock.now())
        links = LinkSigner(
            await signing_key(SqlAlchemyDocumentStore(sessions), clock.now()), settings.base_url()
        )
        limiter = RateLimiter(
            per_conversation_per_second=settings.per_conversation_per_second,
            per_conversation_per_30s=settings.per_conversation_per_30s,
            per_tenant_per_second=settings.per_tenant_per_second,
        )
        sender = ConnectorSender(
            connector=connector,
            limiter=limiter,
            uow_factory=uow_factory,
            clock=clock,
            ics_url=lambda poll_id, user_id: ics_link(settings, ics_secret, poll_id, user_id),
        )

        async def unreachable(user_id: int) -> None:
            await services.recipient_unreachable(uow_factory(), user_id, clock.now())

        dispatcher = Dispatcher(
            queue=SqlAlchemyDeliveryQueue(sessions),
            sender=sender,
            clock=clock,
            policy=RetryPolicy(max_attempts=settings.max_delivery_attempts),
            on_unreachable=unreachable,
            observer=metrics,
        )
        app[COMPONENTS] = Components(
            engine=engine,
            adapter=adapter,
            bot=bot,
            dispatcher=dispatcher,
            uow_factory=uow_factory,
            http=http,
            clock=clock,
            ics_secret=ics_secret,
            links=links,
            metrics=metrics,
        )
        if settings.run_scheduler:
            scheduler = build_scheduler(
                dispatch=dispatcher.tick,
                weekly_digest=lambda: services.queue_weekly_digest(
                    uow_factory(), clock.now(), calendar
                ),
                dispatch_interval_seconds=settings.dispatch_interval_seconds,
                on_job=metrics.job,
            )
            scheduler.start()
            app[_SCHEDULER] = scheduler
            if _digest_missed(clock.now()):
                await services.queue_weekly_digest(
                    uow_factory(), clock.now(), calendar, catch_up=True
                )

    async def stop(app: web.Application) -> None:
        scheduler = app.get(_SCHEDULER)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        components = app.get(COMPONENTS)
        if components is not None:
            await components.http.close()
            await components.engine.dispose()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/api/messages", _messages)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/ics/{poll_id}/{user_id}/{token}.ics", _ics)
    return app


_SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)


def _digest_missed(now: datetime) -> bool:
    """True when this week's Monday 08:00 has passed: the digest may have been missed."""
    local = now.astimezone(HELSINKI)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    return local >= monday
