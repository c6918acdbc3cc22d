"""Proactive fan-out benchmark: the delivery engine as shipped, against a rate-limited
loopback Bot Connector, with a bare-aiohttp baseline measured in the same run.

    python -m bench.fanout --factor 4 --messages 10000 --users 2000 [--latency 0.05]
    python -m bench.fanout --postgres ...          # a throwaway PostgreSQL (Debian package)
    python -m bench.fanout --database-url postgresql+asyncpg://...   # an existing, empty DB

Teams' limits (per conversation 7 per 1 s and 60 per 30 s, per tenant 50 per 1 s) keep
their counts and have every window shortened `--factor` times, on both sides: the loopback
connector gets `Limits(window_scale=1/factor)` and the engine's RateLimiter
`window_scale=1/factor`. The allowed rate is therefore 50*factor messages/s.

The connector runs in its own process (it stands for Teams, not the bot). Two phases,
each against a fresh connector:
  engine   - Dispatcher + ConnectorSender + BotConnector + RateLimiter +
             SqlAlchemyDeliveryQueue on the seeded database, ticked until no row is open;
  baseline - the same POSTs in the same order from a bare aiohttp loop behind the same
             RateLimiter and the same concurrency, no database ("ceiling").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import resource
import shutil
import sys
import tempfile
import time
from bisect import bisect_right
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.ratelimit import RateLimiter

TENANT = "bench-tenant"
BOT_ID = "28:bench-bot"
LOCALE = "fi-FI"
MESSAGE_ID = "help.title"
PER_CONVERSATION_PER_SECOND = 7  # Teams' published limits, unscaled
PER_CONVERSATION_PER_30S = 60
PER_TENANT_PER_SECOND = 50
DEFAULT_CONCURRENCY = 16  # Dispatcher's default

# fmt: off
REPORT_KEYS = ["rate", "wall_s", "cpu_s", "connector_cpu_s", "throttled_429", "peak_in_window",
               "received", "lost", "duplicates", "retried_rows", "timed_out"]
# fmt: on
Received = list[tuple[str, str, float]]  # (conversation id, activity id, monotonic time)


def _connector_main(pipe: Any, window_scale: float, latency: float) -> None:
    asyncio.run(_connector_serve(pipe, window_scale, latency))


async def _connector_serve(pipe: Any, window_scale: float, latency: float) -> None:
    from aiohttp import web

    from tests.support.connector import Limits, LoopbackConnector

    fake = LoopbackConnector(limits=Limits(window_scale=window_scale), latency=latency)
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    pipe.send(runner.addresses[0][1])
    cpu0 = time.process_time()
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "stop"
    pipe.send(
        {
            "throttled": fake.throttled,
            "sent": [(s.conversation_id, s.activity_id, s.at) for s in fake.sent],
            "cpu_s": time.process_time() - cpu0,
            "maxrss_mb": rss_mb(),
        }
    )
    await runner.cleanup()


class ConnectorProcess:
    """A LoopbackConnector in a child process; `stop()` returns what it recorded."""

    def __init__(self, factor: float, latency: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_connector_main, args=(child, 1 / factor, latency), daemon=True
        )
        self._process.start()
        if not self._pipe.poll(60):
            self._process.kill()
            raise RuntimeError("loopback connector did not start")
        self.url = f"http://127.0.0.1:{self._pipe.recv()}"

    def stop(self) -> dict[str, Any]:
        self._pipe.send("stop")
        if not self._pipe.poll(120):
            self._process.kill()
            raise RuntimeError("loopback connector did not report")
        stats: dict[str, Any] = self._pipe.recv()
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
        return stats


def make_limiter(factor: float) -> RateLimiter:
    return RateLimiter(
        per_conversation_per_second=PER_CONVERSATION_PER_SECOND,
        per_conversation_per_30s=PER_CONVERSATION_PER_30S,
        per_tenant_per_second=PER_TENANT_PER_SECOND,
        window_scale=1 / factor,
    )


def client_session() -> aiohttp.ClientSession:  # as bot/app.py builds it
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, limit_per_host=50, keepalive_timeout=60)
    )


class UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


async def seed(url: str, users: int, messages: int, service_url: str) -> list[str]:
    """Users with a personal conversation, and `messages` text rows interleaved over them.

    Returns the conversation of each row, in row order.
    """
    from sqlalchemy import insert

    from consultations.model import UserRef
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from storage.tables import outbox
    from storage.uow import SqlAlchemyUnitOfWork

    engine = create_engine(url)
    try:
        await upgrade(engine)
        now = datetime.now(UTC)
        ids: list[tuple[int, str]] = []
        async with SqlAlchemyUnitOfWork(session_factory(engine)) as uow:
            for i in range(users):
                name = (f"29:bench-user-{i}", None, f"Bench User {i}")
                ref = UserRef(*name, LOCALE, TENANT, service_url, BOT_ID)
                user = await uow.users.upsert(ref, now)
                conversation = f"a:bench-conversation-{i}"
                await uow.users.set_personal_conversation(user.id, conversation, now)
                ids.append((user.id, conversation))
            await uow.commit()
        plan = [ids[k % users] for k in range(messages)]  # u0 u1 … u1999 u0 u1 …
        common: dict[str, Any] = {"kind": "text", "subject": "bench", "recipient_type": "user"}
        common |= {"payload": {"message_id": MESSAGE_ID}, "status": "pending", "attempts": 0}
        common |= {"team_id": None, "due_at": now - timedelta(seconds=1), "created_at": now}
        rows = [
            {**common, "idempotency_key": f"bench:{k}", "recipient_id": str(user_id)}
            for k, (user_id, _) in enumerate(plan)
        ]
        async with engine.begin() as connection:
            await connection.execute(insert(outbox), rows)
        return [conversation for _, conversation in plan]
    finally:
        await engine.dispose()


async def outbox_rows(engine: Any, open_only: bool = False) -> list[Any]:
    from sqlalchemy import select

    from storage.tables import outbox

    c = outbox.c
    query = select(c.status, c.sent_activity_id, c.conversation_id, c.attempts)
    if open_only:
        query = query.where(c.status.in_(("pending", "sending"))).limit(1)
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def run_engine(url: str, factor: float, args: argparse.Namespace) -> dict[str, Any]:
    from bot.delivery import ConnectorSender
    from bot.edge.connector import BotConnector
    from consultations.delivery import RetryPolicy
    from scheduler.dispatcher import Dispatcher
    from storage.db import create_engine, session_factory
    from storage.delivery_queue import SqlAlchemyDeliveryQueue
    from storage.uow import SqlAlchemyUnitOfWork

    engine = create_engine(url)
    sessions = session_factory(engine)
    clock = UtcClock()
    http = client_session()

    async def no_token() -> str | None:
        return None

    async def unreachable(user_id: int) -> None:
        raise AssertionError(f"user {user_id} reported unreachable")

    sender = ConnectorSender(
        connector=BotConnector(http, no_token),
        limiter=make_limiter(factor),
        uow_factory=lambda: SqlAlchemyUnitOfWork(sessions),
        clock=clock,
        ics_url=lambda poll_id, user_id, until, case: (
            ""
        ),  # the fan-out sends no meeting invitations
    )
    options = {"concurrency": args.concurrency} if args.concurrency else {}
    dispatcher = Dispatcher(
        queue=SqlAlchemyDeliveryQueue(sessions),
        sender=sender,
        clock=clock,
        policy=RetryPolicy(),
        on_unreachable=unreachable,
        **options,
    )
    profiler = cProfile.Profile() if args.profile else None
    timed_out = False
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        if profiler:
            profiler.enable()
        while await outbox_rows(engine, open_only=True):
            if time.perf_counter() - t0 > args.timeout:
                timed_out = True
                break
            if await dispatcher.tick() == 0:
                await asyncio.sleep(0.05)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        rows = await outbox_rows(engine)
    finally:
        await http.close()
        await engine.dispose()
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
        if args.profile != "-":
            stats.dump_stats(args.profile)
    return {"wall_s": wall, "cpu_s": cpu, "timed_out": timed_out, "rows": rows}


async def run_baseline(
    connector_url: str, plan: list[str], factor: float, concurrency: int, limit_s: float
) -> dict[str, Any]:
    """The same POSTs, bare: RateLimiter + aiohttp, no database, no rendering.

    Like the engine, a throttled message is put aside until its Retry-After has passed
    while the worker goes on with the next one.
    """
    from bot.i18n import texts_for

    limiter = make_limiter(factor)
    activity = {"type": "message", "text": texts_for(LOCALE)(MESSAGE_ID)}
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for conversation in plan:
        queue.put_nowait((conversation, 1))
    remaining, failures = len(plan), 0
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal failures, remaining
        while True:
            conversation, attempt = await queue.get()
            url = f"{connector_url}/v3/conversations/{quote(conversation, safe='')}/activities"
            await limiter.acquire(TENANT, conversation)
            try:
                async with http.post(url, json=activity) as response:
                    await response.read()
                    status = response.status
                    retry = float(response.headers.get("Retry-After") or 1)
            except (aiohttp.ClientError, OSError):
                status, retry = 599, 1.0
            if status < 300 or attempt >= 8:
                failures += status >= 300
                remaining -= 1
                if remaining == 0:
                    done.set()
            else:
                if status == 429:
                    limiter.throttled(TENANT, conversation, retry)
                loop.call_later(retry, queue.put_nowait, (conversation, attempt + 1))

    cpu0, t0 = time.process_time(), time.perf_counter()
    timed_out = False
    async with client_session() as http:
        workers = [asyncio.create_task(worker(http)) for _ in range(concurrency)]
        try:
            await asyncio.wait_for(done.wait(), limit_s)
        except TimeoutError:
            timed_out = True
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - cpu0,
        "timed_out": timed_out,
        "lost": failures + remaining,
    }


def observed(stats: dict[str, Any], factor: float) -> dict[str, Any]:
    """What the connector saw: rate from first to last accepted send, 429s, and the most
    sends it accepted in any one tenant window (the limit is 50)."""
    received: Received = stats["sent"]
    times = sorted(at for _, _, at in received)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "rate": len(times) / span if span > 0 else 0.0,
        "received": len(received),
        "throttled_429": stats["throttled"],
        "peak_in_window": max(
            (bisect_right(times, t + 1 / factor) - i for i, t in enumerate(times)), default=0
        ),
        "connector_cpu_s": stats["cpu_s"],
        "connector_rss_mb": stats["maxrss_mb"],
    }


def verify(plan: list[str], received: Received, rows: list[Any]) -> dict[str, int]:
    """A row is delivered when it is 'sent' and the connector holds the activity it
    recorded, in the conversation it recorded. Per-conversation counts are compared too."""
    expected, got = Counter(plan), Counter(c for c, _, _ in received)
    by_id = {aid: c for c, aid, _ in received}
    sent = [r for r in rows if r.status == "sent"]
    delivered = sum(1 for r in sent if by_id.get(r.sent_activity_id) == r.conversation_id)
    missing = sum(max(0, n - got[c]) for c, n in expected.items())
    extra = sum(max(0, n - expected[c]) for c, n in got.items())
    return {
        "received": len(received),
        "rows_sent": len(sent),
        "lost": max(len(plan) - delivered, missing),
        "duplicates": max(extra, len(received) - delivered),
        "retried_rows": sum(1 for r in sent if r.attempts > 1),
        **{f"rows_{k}": v for k, v in Counter(r.status for r in rows).items() if k != "sent"},
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss, not inherited over fork+exec)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    factor, allowed = args.factor, PER_TENANT_PER_SECOND * args.factor
    concurrency = args.concurrency or DEFAULT_CONCURRENCY
    tmp = tempfile.mkdtemp(prefix="bench-fanout-")
    postgres = None
    try:
        if args.postgres:
            from tests.support.postgres import start_postgres

            postgres = start_postgres()
            postgres.psql("CREATE DATABASE bench")
            url = postgres.url("bench")
        else:
            url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"

        connector = ConnectorProcess(factor, args.latency)
        try:
            plan = await seed(url, args.users, args.messages, connector.url)
            rss_seeded = rss_mb()
            run = await run_engine(url, factor, args)
        finally:
            stats = connector.stop()
        rows = run.pop("rows")
        engine = {**run, **observed(stats, factor), **verify(plan, stats["sent"], rows)}
        rss_engine = rss_mb()
        baseline = None
        if not args.no_baseline:
            connector = ConnectorProcess(factor, args.latency)
            try:
                run = await run_baseline(connector.url, plan, factor, concurrency, args.timeout)
            finally:
                baseline_stats = connector.stop()
            baseline = {**run, **observed(baseline_stats, factor)}
        return {
            **{k: getattr(args, k) for k in ("factor", "messages", "users", "latency")},
            "backend": url.split(":", 1)[0],
            "concurrency": concurrency,
            "allowed_rate": allowed,
            "engine": engine,
            "baseline": baseline,
            "ratio_to_allowed": engine["rate"] / allowed,
            "ratio_to_baseline": engine["rate"] / baseline["rate"] if baseline else None,
            "peak_rss_mb": {
                "after_seeding": rss_seeded,
                "after_engine": rss_engine,
                "connector": engine["connector_rss_mb"],
            },
            "machine": machine(),
        }
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def print_report(r: dict[str, Any]) -> None:
    e, b = r["engine"], r["baseline"] or {}
    print(
        f"\nfan-out: {r['messages']} messages to {r['users']} users, {r['backend']}, "
        f"factor {r['factor']:g}, latency {r['latency'] * 1000:g} ms, concurrency "
        f"{r['concurrency']}; allowed {r['allowed_rate']:g} msg/s; rate/allowed "
        f"{r['ratio_to_allowed']:.3f}, engine/baseline {r['ratio_to_baseline'] or 0:.3f}"
    )
    print(f"  {'':<18} {'engine':>10} {'baseline':>10}")
    for key in REPORT_KEYS:
        cells = [d.get(key, "-") for d in (e, b)]
        cells = [f"{c:.2f}" if isinstance(c, float) else str(c) for c in cells]
        print(f"  {key:<18} {cells[0]:>10} {cells[1]:>10}")
    print(f"  peak RSS MB: {r['peak_rss_mb']}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--factor", type=float, default=10.0, help="windows are this many times shorter")
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--users", type=int, default=2_000)
    p.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    p.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")
    p.add_argument("--latency", type=float, default=0.0, help="connector delay per request, s")
    p.add_argument("--concurrency", type=int, default=0, help="default: the Dispatcher's")
    p.add_argument("--timeout", type=float, default=300.0, help="give up on a phase after this, s")
    p.add_argument("--no-baseline", action="store_true", help="skip the bare-aiohttp baseline")
    p.add_argument("--profile", help="cProfile the engine phase; dump to FILE ('-': print only)")
    p.add_argument("--json", help="also write the JSON result to this file")
    args = p.parse_args(argv)
    if args.factor <= 0 or args.users <= 0 or args.messages <= 0:
        p.error("factor, users and messages must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    result = asyncio.run(main_async(args))
    print_report(result)
    line = json.dumps(result, sort_keys=True)
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    e = result["engine"]
    ok = e["lost"] == 0 and e["duplicates"] == 0 and result["ratio_to_allowed"] >= 0.9
    ok = ok and not e["timed_out"]
    print("PASS" if ok else "FAIL", "(rate/allowed >= 0.9, lost == 0, duplicates == 0)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
