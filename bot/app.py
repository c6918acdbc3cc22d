"""create_app(settings): the composition root, the one place where everything is wired.

An activity's road: `bot.edge.http` (body, shape, authentication) -> `bot.dispatch`
(by type, invoke name, verb or command word) -> a card flow in `dialogs/` -> use cases in
`consultations/` (one transaction: state + outbox rows) -> the card in the HTTP response
or one reply through `bot.edge.replies`. The outbox is sent by `scheduler.dispatcher`
through `bot.delivery`.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import holidays
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import invitations
from bot.case_export import CaseExportLinks, add_case_export
from bot.delivery import ConnectorSender, PersonalChats
from bot.dispatch import ActivityDispatcher
from bot.edge.auth import ChannelAuthentication, ChannelKeys, metadata_url, token_provider
from bot.edge.connector import BotConnector
from bot.edge.http import MAX_BODY_BYTES, Edge, add_routes
from bot.edge.replies import ReplySender, Where
from bot.i18n import texts_for
from bot.links import LinkSigner, add_download, signing_key
from bot.metrics import Metrics, serve_metrics, turn_kind
from bot.ratelimit import RateLimiter
from bot.report_export import REPORT_EXPORTS, ReportExports, add_report_downloads
from bot.senders import SENDER_WATCH_SECONDS, SenderMemory, SenderWatch
from bot.settings import Settings
from consultations import retention, services
from consultations.calendar import BusinessCalendar
from consultations.delivery import RetryPolicy
from consultations.ports import Clock
from dialogs.admin import AdminFlow
from dialogs.followup import FollowUpFlow
from dialogs.language import LanguageFlow
from dialogs.people import PeopleFlow
from dialogs.poll import PollFlow
from dialogs.registry import RegistryFlow
from dialogs.report import ReportFlow
from dialogs.request import RequestFlow
from dialogs.summary import SummaryFlow
from dialogs.triage import TriageFlow
from scheduler.dispatcher import Dispatcher
from scheduler.runner import build_scheduler
from storage.audit_writer import AuditWriter
from storage.db import create_engine, create_read_engine, session_factory
from storage.delivery_queue import SqlAlchemyDeliveryQueue
from storage.documents import SqlAlchemyDocumentStore
from storage.leases import SqlAlchemyDispatchLease
from storage.migrate import upgrade
from storage.polls import PollShapes
from storage.reports import SqlAlchemyReportSource
from storage.uow import SqlAlchemyUnitOfWork

log = logging.getLogger(__name__)
HELSINKI = ZoneInfo("Europe/Helsinki")
# At shutdown the dispatcher gets this long to settle the batch it is sending (a container
# runtime waits 10 s before it kills).
STOP_TIMEOUT = 8.0

__all__ = ["COMPONENTS", "MAX_BODY_BYTES", "SETTINGS", "Components", "create_app"]


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
    activities: ActivityDispatcher
    dispatcher: Dispatcher
    uow_factory: Callable[[], SqlAlchemyUnitOfWork]
    http: aiohttp.ClientSession
    clock: Clock
    links: LinkSigner
    replies: ReplySender
    keys: ChannelKeys | None
    metrics: Metrics
    # Brings this instance's memory of senders in line with what other instances wrote.
    senders: SenderWatch
    # SQLite only: the read-only connections views read through (storage.db).
    read_engine: AsyncEngine | None = None


COMPONENTS = web.AppKey("components", Components)
SETTINGS = web.AppKey("settings", Settings)
_SCHEDULER = web.AppKey("scheduler", AsyncIOScheduler)


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the aiohttp application. Nothing touches the database until it starts."""
    clock = clock or SystemClock()
    # Nothing is decompressed on the way in: the edge refuses a compressed body (the Bot
    # Connector never sends one), so no decompression error can surface anywhere.
    app = web.Application(client_max_size=MAX_BODY_BYTES, handler_args={"auto_decompress": False})
    app[SETTINGS] = settings
    edge_box: list[Edge] = []
    metrics = Metrics(clock.now)
    if settings.metrics_port is not None:
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
        read_engine = create_read_engine(settings.database_url)
        read_sessions = session_factory(read_engine) if read_engine is not None else sessions

        def uow_factory() -> SqlAlchemyUnitOfWork:
            return SqlAlchemyUnitOfWork(sessions, poll_shapes)

        audit_writer = AuditWriter(sessions)

        def read_uow_factory() -> SqlAlchemyUnitOfWork:
            # A view: it reads beside the writer (SQLite) or from the pool (PostgreSQL),
            # and the audit records of views committing together share one transaction.
            return SqlAlchemyUnitOfWork(read_sessions, poll_shapes, audit_to=audit_writer)

        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, limit_per_host=50, keepalive_timeout=60)
        )
        connector = BotConnector(
            http,
            token_provider(
                settings.app_id, settings.app_password, settings.app_type, settings.app_tenant_id
            ),
        )
        store = SqlAlchemyDocumentStore(sessions)
        links = LinkSigner(await signing_key(store, clock.now()), settings.base_url())
        limiter = RateLimiter(
            per_conversation_per_second=settings.per_conversation_per_second,
            per_conversation_per_30s=settings.per_conversation_per_30s,
            per_tenant_per_second=settings.per_tenant_per_second,
        )

        async def hand_over(
            where: Where, activity: dict[str, Any], due: datetime, key: str
        ) -> None:
            await services.queue_reply(
                uow_factory(),
                key=key,
                activity=activity,
                conversation_id=where.conversation_id,
                service_url=where.service_url,
                tenant=where.tenant,
                reply_to=where.reply_to,
                user_id=where.user_id,
                due_at=due,
                now=clock.now(),
            )

        replies = ReplySender(
            connector=connector, limiter=limiter, hand_over=hand_over, clock=clock
        )
        chats = PersonalChats(
            connector=connector, limiter=limiter, uow_factory=uow_factory, clock=clock
        )
        # Reports read through a source of their own (read only); the unit of work writes
        # the audit record of who ran which report.
        report_source = SqlAlchemyReportSource(read_sessions)
        exports = ReportExports(
            signer=links,
            clock=clock,
            source=report_source,
            uow_factory=uow_factory,
            admins=settings.admins,
            calendar=calendar,
        )
        app[REPORT_EXPORTS] = exports
        flow_parts: dict[str, Any] = {
            "uow_factory": uow_factory,
            "read_uow_factory": read_uow_factory,
            "clock": clock,
            "calendar": calendar,
            "admins": settings.admins,
        }
        senders = SenderMemory(clock)
        activities = ActivityDispatcher(
            flows=[
                RegistryFlow(localize=texts_for, **flow_parts),
                LanguageFlow(localize=texts_for, **flow_parts),
                RequestFlow(**flow_parts),
                TriageFlow(**flow_parts),
                PollFlow(**flow_parts),
                SummaryFlow(**flow_parts),
                FollowUpFlow(**flow_parts),
                ReportFlow(source=report_source, exports=exports, **flow_parts),
                AdminFlow(export_links=CaseExportLinks(lambda: links, clock), **flow_parts),
                PeopleFlow(**flow_parts),
            ],
            uow_factory=uow_factory,
            clock=clock,
            connector=connector,
            replies=replies,
            chats=chats,
            senders=senders,
        )
        sender_watch = SenderWatch(senders, uow_factory, clock)
        keys: ChannelKeys | None = None
        authentication: ChannelAuthentication | None = None
        if settings.authenticated:
            keys = ChannelKeys(http, metadata_url(settings.openid_metadata_url))
            authentication = ChannelAuthentication(keys, settings.app_id)
            await keys.prefetch()

        async def dispatch(activity: Any) -> tuple[int, Any, str]:
            answer = await activities.dispatch(activity)
            return answer.status, answer.body, answer.outcome

        edge_box.append(
            Edge(
                authentication=authentication,
                dispatch=dispatch,
                observe=metrics.turn,
                kind=turn_kind,
            )
        )

        def ics(poll_id: int, user_id: int, until: datetime, case_number: str) -> str:
            return invitations.ics_url(links, poll_id, user_id, until, case_number)

        sender = ConnectorSender(
            connector=connector,
            limiter=limiter,
            uow_factory=uow_factory,
            read_uow_factory=read_uow_factory,
            clock=clock,
            ics_url=ics,
        )

        async def unreachable(user_id: int) -> None:
            await services.recipient_unreachable(uow_factory(), user_id, clock.now())

        # Who this instance is among the several that may share the database.
        instance = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        dispatcher = Dispatcher(
            queue=SqlAlchemyDeliveryQueue(sessions, holder=instance),
            leadership=SqlAlchemyDispatchLease(sessions, instance),
            sender=sender,
            clock=clock,
            policy=RetryPolicy(max_attempts=settings.max_delivery_attempts),
            on_unreachable=unreachable,
            observer=metrics,
        )
        app[COMPONENTS] = Components(
            engine=engine,
            activities=activities,
            dispatcher=dispatcher,
            uow_factory=uow_factory,
            http=http,
            clock=clock,
            links=links,
            replies=replies,
            keys=keys,
            metrics=metrics,
            senders=sender_watch,
            read_engine=read_engine,
        )
        if settings.run_scheduler:

            async def weekly_digest(catch_up: bool = False) -> None:
                now = clock.now()
                await services.queue_weekly_digest(uow_factory(), now, calendar, catch_up=catch_up)
                await retention.queue_admin_digest(
                    uow_factory(), now, calendar, settings.admins, catch_up=catch_up
                )

            scheduler = build_scheduler(
                dispatch=dispatcher.tick,
                weekly_digest=weekly_digest,
                dispatch_interval_seconds=settings.dispatch_interval_seconds,
                retention=lambda: retention.run_retention(uow_factory, clock.now()),
                on_job=metrics.job,
                senders=sender_watch.tick,
                senders_interval_seconds=SENDER_WATCH_SECONDS,
            )
            scheduler.start()
            app[_SCHEDULER] = scheduler
            if _digest_missed(clock.now()):
                await weekly_digest(catch_up=True)

    async def stop(app: web.Application) -> None:
        components = app.get(COMPONENTS)
        if components is not None:
            # The batch being sent is settled before the connections close: otherwise its
            # rows stay `sending`, and the next lease holder sends them again.
            await components.dispatcher.stop(grace=STOP_TIMEOUT)
        scheduler = app.get(_SCHEDULER)
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if components is not None:
            await components.http.close()
            await components.engine.dispose()
            if components.read_engine is not None:
                await components.read_engine.dispose()

    async def messages(request: web.Request) -> web.StreamResponse:
        if not edge_box:
            return web.json_response({"error": "starting"}, status=503)
        return await edge_box[0].messages(request)

    def engine() -> AsyncEngine | None:
        components = app.get(COMPONENTS)
        return components.engine if components else None

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    add_routes(app, messages, engine)
    add_report_downloads(app, lambda: app[COMPONENTS].clock.now())
    add_case_export(
        app,
        signer=lambda: app[COMPONENTS].links,
        uows=lambda: app[COMPONENTS].uow_factory(),
        clock=lambda: app[COMPONENTS].clock,
    )
    add_download(
        app,
        lambda: app[COMPONENTS].links,
        lambda: app[COMPONENTS].clock.now(),
        invitations.PURPOSE,
        lambda subject, request: invitations.download(
            app[COMPONENTS].uow_factory, app[COMPONENTS].clock
        )(subject, request),
    )
    return app


def _digest_missed(now: datetime) -> bool:
    """True when this week's Monday 08:00 has passed: the digest may have been missed."""
    local = now.astimezone(HELSINKI)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    return local >= monday
