"""A delivery worker built from the project's own classes, run as a separate process.

    python -m tests.support.dispatch_worker <database_url> <connector_url> <lease_seconds>
        [--once]

It ticks the dispatcher until it is killed (the crash tests kill it with SIGKILL), or,
with --once, runs a single tick, prints how many messages it settled and exits.
`connector_url` is only echoed for the logs: where a message goes is the recipient's
service URL stored in the database, exactly as in production.
"""

from __future__ import annotations

import asyncio
import logging
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
from storage.uow import SqlAlchemyUnitOfWork

log = logging.getLogger("dispatch_worker")
TICK_INTERVAL_SECONDS = 0.05


async def no_token() -> str | None:
    return None


async def run(database_url: str, connector_url: str, lease_seconds: float, once: bool) -> int:
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
        dispatcher = Dispatcher(
            queue=SqlAlchemyDeliveryQueue(sessions),
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
    args = [a for a in argv if a != "--once"]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    database_url, connector_url, lease = args
    settled = asyncio.run(run(database_url, connector_url, float(lease), "--once" in argv))
    print(f"settled {settled}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
