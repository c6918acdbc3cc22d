"""Sender watch benchmark: what each instance's `SenderWatch.tick` (every 2 s) costs on a
county's users, on SQLite and on PostgreSQL.

    python -m bench.senders                       # SQLite file in a temporary directory
    python -m bench.senders --postgres            # a throwaway PostgreSQL (Debian package)
    # more options: --users N (10000), --changed N (20), --repeat N (50)

N users are written straight into the table, `--changed` of them changed within the last
minute (the rest three days ago); a memory remembers every one of them, so each tick
reads the changed rows and compares them all (the worst case: every user remembered).
Reported as median / min / max ms per tick, beside a bare `SELECT 1` in a session.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from bot.senders import SenderMemory, SenderWatch
from consultations.model import UserRef
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.polls import PollShapes
from storage.tables import users
from storage.uow import SqlAlchemyUnitOfWork


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


async def timed(job: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    await job()  # warm up
    spent = []
    for _ in range(repeat):
        started = time.perf_counter()
        await job()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


async def run(url: str, people: int, changed: int, repeat: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    now = datetime.now(UTC)
    every = max(1, people // max(1, changed))
    rows = [
        {
            "teams_user_id": f"29:user-{n}",
            "name": f"User {n}",
            "locale": "fi-FI",
            "tenant_id": "tenant",
            "service_url": "https://smba.example/emea/",
            "bot_id": "28:bot",
            "created_at": now - timedelta(days=30),
            "updated_at": now - timedelta(seconds=10)
            if n % every == 0
            else now - timedelta(days=3),
        }
        for n in range(people)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(users), rows)
    sessions = session_factory(engine)
    shapes = PollShapes()

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(sessions, shapes)

    clock = FixedClock(now)
    memory = SenderMemory(clock, max_size=people)
    async with uow() as unit:
        stored = await unit.users.get_many(list(range(1, people + 1)))
    for user in stored.values():
        ref = UserRef(user.teams_user_id, None, user.name, user.locale, "", "", "")
        memory.put(ref, None, user)
    watch = SenderWatch(memory, uow, clock)

    async def floor() -> None:
        async with sessions() as session:
            await session.execute(select(text("1")))

    found = await watch.tick()
    assert found == 0, "nothing changed since the memory was filled"
    results = {
        "select 1": await timed(floor, repeat),
        "tick": await timed(watch.tick, repeat),
    }
    print(f"{engine.dialect.name}: {people} users, {changed} changed in the last minute")
    for name, spent in results.items():
        print(
            f"  {name:9} median {statistics.median(spent):6.2f} ms"
            f"  min {min(spent):6.2f}  max {max(spent):6.2f}"
        )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}")
    if args.postgres:
        from tests.support.postgres import start_postgres

        server = start_postgres()
        try:
            server.psql("CREATE DATABASE bench_senders")
            asyncio.run(run(server.url("bench_senders"), args.users, args.changed, args.repeat))
        finally:
            server.stop()
        return
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        asyncio.run(run(url, args.users, args.changed, args.repeat))


if __name__ == "__main__":
    main()
