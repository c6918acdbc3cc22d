"""Prometheus metrics: what an operator needs to see that the bot is well.

Recording is always on and cheap (a counter increment, a histogram bucket); serving is off
unless `METRICS_PORT` is set, and then happens on a port of its own, apart from what the
reverse proxy publishes. Bound to anything but loopback it answers only to the bearer token
`METRICS_TOKEN`.

The small API is what the edge (bot.edge.http, once per request), the outbox dispatcher
and the scheduler call:
`turn(kind, result, seconds)`, `delivery(result)`, `reminder_lag(seconds)`,
`job(name, result, seconds)`; `watch_database(engine)` adds the outbox depth (queried at
scrape time, cached briefly) and the connection pool.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from storage.monitoring import WATCHED_STATES, OutboxDepth, outbox_depth

log = logging.getLogger(__name__)
# A `_created` gauge beside every counter and histogram doubles the series for nothing
# Prometheus' rate() needs.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client 0.26

PREFIX = "tyokykytiimi"
TURN_RESULTS = ("ok", "refused", "invalid", "unauthorized", "error")
DELIVERY_RESULTS = ("sent", "retried", "throttled", "dead")
JOB_RESULTS = ("ok", "error")
# Teams gives up on an invoke after 15 s; the buckets are dense where a turn should be.
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
LAG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
# Kinds and job names are labels: a bounded set, or Prometheus' memory grows with them.
MAX_KINDS = 100
OTHER = "other"
_LABEL = re.compile(r"^[a-z][a-zA-Z0-9_./:-]{0,63}$")
OUTBOX_CACHE_SECONDS = 10.0


class Metrics:
    """One instance's metrics, in a registry of its own (so that several apps in one test
    process do not share counters)."""

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        outbox_cache_seconds: float = OUTBOX_CACHE_SECONDS,
    ) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._kinds: set[str] = set()
        self._turns = Counter(
            f"{PREFIX}_turns",
            "Activities handled, by kind (activity type, invoke name or card verb) and result.",
            ["kind", "result"],
            registry=self.registry,
        )
        self._turn_seconds = Histogram(
            f"{PREFIX}_turn_seconds",
            "Time from receiving an activity to answering it, by kind.",
            ["kind"],
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self._deliveries = Counter(
            f"{PREFIX}_deliveries",
            "Proactive send attempts by result: sent, retried (later), throttled (HTTP 429), "
            "dead (dead-lettered).",
            ["result"],
            registry=self.registry,
        )
        self._lag = Histogram(
            f"{PREFIX}_reminder_lag_seconds",
            "Time from an outbox message's due time to its sending; after a retry the due "
            "time is the retry's, so this shows how far the dispatcher runs behind.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self._jobs = Counter(
            f"{PREFIX}_scheduler_jobs",
            "Scheduler job runs by job and result.",
            ["job", "result"],
            registry=self.registry,
        )
        self._job_seconds = Histogram(
            f"{PREFIX}_scheduler_job_seconds",
            "Scheduler job run time by job.",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        for result in DELIVERY_RESULTS:
            self._deliveries.labels(result)  # present at 0 from the start, for rate()
        self._database = _DatabaseCollector(outbox_cache_seconds)
        self.registry.register(self._database)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    # --- the API ---------------------------------------------------------------------

    def turn(self, kind: str, result: str, seconds: float) -> None:
        """One activity answered. `result`: ok, refused (a domain refusal told to the
        user), invalid (4xx), unauthorized (401) or error (a failure)."""
        kind = self._kind(kind)
        self._turns.labels(kind, result if result in TURN_RESULTS else OTHER).inc()
        self._turn_seconds.labels(kind).observe(seconds)

    def delivery(self, result: str) -> None:
        """One send attempt settled: sent, retried, throttled or dead."""
        self._deliveries.labels(result if result in DELIVERY_RESULTS else OTHER).inc()

    def reminder_lag(self, seconds: float) -> None:
        self._lag.observe(max(0.0, seconds))

    def job(self, name: str, result: str, seconds: float) -> None:
        name = name if _LABEL.match(name) else OTHER
        self._jobs.labels(name, result if result in JOB_RESULTS else OTHER).inc()
        self._job_seconds.labels(name).observe(seconds)

    def watch_database(self, engine: AsyncEngine) -> None:
        self._database.engine = engine

    @property
    def outbox_cache_seconds(self) -> float:
        return self._database.cache_seconds

    @outbox_cache_seconds.setter
    def outbox_cache_seconds(self, seconds: float) -> None:
        self._database.cache_seconds = seconds

    # --- serving ---------------------------------------------------------------------

    async def exposition(self) -> bytes:
        """The text a scrape gets; refreshes the outbox figures first when they are old."""
        await self._database.refresh(self._clock())
        return generate_latest(self.registry)

    def _kind(self, kind: str) -> str:
        if kind in self._kinds:
            return kind
        if not _LABEL.match(kind) or len(self._kinds) >= MAX_KINDS:
            return OTHER
        self._kinds.add(kind)
        return kind


class _DatabaseCollector(Collector):
    """Outbox depth and connection pool use, read when scraped."""

    def __init__(self, cache_seconds: float) -> None:
        self.engine: AsyncEngine | None = None
        # Scrapers every 15-60 s, from one or two Prometheus servers: one query per window.
        self.cache_seconds = cache_seconds
        self._depth: OutboxDepth | None = None
        self._read_at = float("-inf")
        self._up = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self, now: datetime) -> None:
        if self.engine is None:
            return
        async with self._lock:  # scrapes that arrive together share one query
            if time.monotonic() - self._read_at < self.cache_seconds:
                return
            try:
                self._depth = await asyncio.wait_for(outbox_depth(self.engine, now), 5)
                self._up = 1.0
            except Exception as error:  # noqa: BLE001 - a scrape reports it, never fails
                log.warning("metrics: outbox not readable: %s", type(error).__name__)
                self._up = 0.0
            self._read_at = time.monotonic()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.engine is None:
            return
        up = GaugeMetricFamily(
            f"{PREFIX}_database_up", "1 when the last outbox query succeeded, else 0."
        )
        up.add_metric([], self._up)
        yield up
        if self._depth is not None:
            depth = GaugeMetricFamily(
                f"{PREFIX}_outbox_messages",
                "Outbox rows by state (pending includes those not yet due).",
                labels=["state"],
            )
            for state in WATCHED_STATES:
                depth.add_metric([state], self._depth.by_state.get(state, 0))
            yield depth
            due = GaugeMetricFamily(
                f"{PREFIX}_outbox_due_messages", "Pending outbox rows whose time has come."
            )
            due.add_metric([], self._depth.due)
            yield due
            oldest = GaugeMetricFamily(
                f"{PREFIX}_outbox_oldest_due_seconds",
                "How long the oldest due pending row has waited (0: none waiting).",
            )
            oldest.add_metric([], self._depth.oldest_due_seconds)
            yield oldest
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            connections = GaugeMetricFamily(
                f"{PREFIX}_db_pool_connections",
                "Database connections of this instance: in use (checked out) or idle.",
                labels=["state"],
            )
            connections.add_metric(["in_use"], pool.checkedout())
            connections.add_metric(["idle"], pool.checkedin())
            yield connections
            size = GaugeMetricFamily(
                f"{PREFIX}_db_pool_size", "Connections the pool keeps (overflow not counted)."
            )
            size.add_metric([], pool.size())
            yield size
            overflow = GaugeMetricFamily(
                f"{PREFIX}_db_pool_overflow",
                "Connections beyond the pool size now open (negative: room left unopened).",
            )
            overflow.add_metric([], pool.overflow())
            yield overflow


# --- turns at the HTTP edge ---------------------------------------------------------

_INVOKE_NAMES = frozenset(
    {
        "adaptiveCard/action",
        "task/fetch",
        "task/submit",
        "composeExtension/query",
        "signin/verifyState",
        "signin/tokenExchange",
        "installationUpdate",
    }
)
_ACTIVITY_TYPES = frozenset(
    {
        "message",
        "invoke",
        "conversationUpdate",
        "installationUpdate",
        "messageReaction",
        "messageUpdate",
        "messageDelete",
        "typing",
        "event",
    }
)
_VERB = re.compile(r"^[a-z][a-z0-9_.]{0,47}$")


def turn_kind(activity: object) -> str:
    """A bounded name for what an activity asks: its type; for an invoke its name; for a
    card action (Action.Execute or Action.Submit) its verb."""
    if not isinstance(activity, dict):
        return OTHER
    kind = activity.get("type")
    if kind not in _ACTIVITY_TYPES:
        return OTHER
    value = activity.get("value")
    if kind == "invoke":
        name = activity.get("name")
        if name == "adaptiveCard/action":
            action = value.get("action") if isinstance(value, dict) else None
            verb = action.get("verb") if isinstance(action, dict) else None
            return f"card:{verb}" if isinstance(verb, str) and _VERB.match(verb) else "card"
        return f"invoke:{name}" if name in _INVOKE_NAMES else "invoke"
    if kind == "message" and isinstance(value, dict):
        verb = value.get("verb")  # an Action.Submit carries its verb in the value
        return f"submit:{verb}" if isinstance(verb, str) and _VERB.match(verb) else "submit"
    return str(kind)


# --- the metrics endpoint -----------------------------------------------------------


@dataclass
class MetricsServer:
    runner: web.AppRunner
    host: str
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


METRICS_SERVER = web.AppKey("metrics_server", MetricsServer)


def metrics_app(metrics: Metrics, token: str) -> web.Application:
    expected = f"Bearer {token}".encode()

    async def scrape(request: web.Request) -> web.Response:
        if token:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return web.Response(
                    status=401,
                    text="bearer token required\n",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        body = await metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    return app


async def start_metrics_server(
    metrics: Metrics, host: str, port: int, token: str = ""
) -> MetricsServer:
    """Serve GET /metrics on host:port (port 0: a free one, as tests use)."""
    runner = web.AppRunner(metrics_app(metrics, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    log.info("metrics on http://%s:%s/metrics", host, bound)
    return MetricsServer(runner, host, bound)


def serve_metrics(app: web.Application, metrics: Metrics, host: str, port: int, token: str) -> None:
    """Start the metrics server with `app` and stop it with it; its address is then
    `app[METRICS_SERVER]`."""

    async def start(app: web.Application) -> None:
        app[METRICS_SERVER] = await start_metrics_server(metrics, host, port, token)

    async def stop(app: web.Application) -> None:
        server = app.get(METRICS_SERVER)
        if server is not None:
            await server.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
