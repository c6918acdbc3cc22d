"""A delivery worker built from the project's own classes, run as a separate process.

    python -m tests.support.dispatch_worker <database_url> <connector_url> <lease_seconds>
        [--once] [--name NAME] [--leader-seconds SECONDS]

It ticks the dispatcher until it is killed (the crash tests kill it with SIGKILL), or,
with --once, runs a single tick, prints how many messages it settled and exits.
`connector_url` is only echoed for the logs: where a message goes is the recipient's
service URL stored in the database, exactly as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import aiohttp

from bot.app import SystemClock
from bot.delivery import ConnectorSender
from bot.edge.connector import BotConnector
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from consultations import services
from consultations.delivery import RetryPolicy
from scheduler.dispatcher import Dispatcher
from storage.db import create_engine, session_factory
from storage.delivery_queue import SqlAlchemyDeliveryQueue
from storage.leases import SqlAlchemyDispatchLease
from storage.uow import SqlAlchemyUnitOfWork

log = logging.getLogger("dispatch_worker")
TICK_INTERVAL_SECONDS = 0.05


async def no_token() -> str | None:
    return None


async def run(
    database_url: str,
    connector_url: str,
    lease_seconds: float,
    once: bool,
    name: str = "",
    leader_seconds: float = 15.0,
) -> int:
    defaults = Settings()  # Teams' documented limits, as the real app uses them
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    clock = SystemClock()

    def uow_factory() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(sessions)

    async def unreachable(user_id: int) -> None:
        await services.recipient_unreachable(uow_factory(), user_id, clock.now())

    settled_total = 0
    async with aiohttp.ClientSession() as http:
        sender = ConnectorSender(
            connector=BotConnector(http, no_token),
            limiter=RateLimiter(
                per_conversation_per_second=defaults.per_conversation_per_second,
                per_conversation_per_30s=defaults.per_conversation_per_30s,
                per_tenant_per_second=defaults.per_tenant_per_second,
            ),
            uow_factory=uow_factory,
            clock=clock,
            ics_url=lambda poll_id, user_id, until, case: "",  # no meeting invitations here
        )
        holder = name or f"worker:{os.getpid()}"
        dispatcher = Dispatcher(
            queue=SqlAlchemyDeliveryQueue(sessions, holder=holder),
            leadership=SqlAlchemyDispatchLease(sessions, holder, leader_seconds),
            sender=sender,
            clock=clock,
            policy=RetryPolicy(max_attempts=defaults.max_delivery_attempts),
            on_unreachable=unreachable,
            lease_seconds=lease_seconds,
        )
        log.info("worker up: connector %s, lease %ss", connector_url, lease_seconds)
        try:
            while True:
                settled_total += await dispatcher.tick()
                if once:
                    break
                await asyncio.sleep(TICK_INTERVAL_SECONDS)
        finally:
            await engine.dispose()
    return settled_total


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dispatch_worker")
    parser.add_argument("database_url")
    parser.add_argument("connector_url")
    parser.add_argument("lease", type=float)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--name", default="")
    parser.add_argument("--leader-seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settled = asyncio.run(
        run(
            args.database_url,
            args.connector_url,
            args.lease,
            args.once,
            args.name,
            args.leader_seconds,
        )
    )
    print(f"settled {settled}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
