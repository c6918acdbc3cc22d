"""Engine factory and column types shared by the tables.

Engines are made by `create_engine(url)`, never at import, so tests and several
instances can each have their own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        value = value.astimezone(UTC)
        # SQLite stores text; keep it naive UTC so ordering and comparison stay lexical.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JsonText(TypeDecorator[Any]):
    """JSON kept as text: portable, and byte-for-byte what was written."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


def _sqlite_engine(
    url: str, *, pool_size: int, pragmas: tuple[str, ...], begin: str
) -> AsyncEngine:
    """An SQLite engine whose connections run `pragmas` when opened and start every
    transaction with `begin` (SQLAlchemy issues it, not the driver)."""
    # hide_parameters: a failed statement's error (and so a log line) never carries the
    # values bound to it, which may be text from a card.
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


_WRITER_PRAGMAS = (
    # WAL lets the scheduler read while a turn writes; foreign keys are off by default.
    "PRAGMA journal_mode=WAL",
    # With WAL, NORMAL loses nothing when the process dies, only on a power cut of the
    # host, and makes each commit an order of magnitude cheaper.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    # A wiped or deleted text is overwritten with zeros in the file, not merely unlinked:
    # anonymisation and erasure must leave nothing to read (SPEC §5).
    "PRAGMA secure_delete=ON",
)
_READER_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    # A write through a reader is a bug: it fails at once instead of racing the writer.
    "PRAGMA query_only=ON",
)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Make an engine for `url` (sqlite+aiosqlite or postgresql+asyncpg)."""
    if url.startswith("sqlite"):
        # One connection: SQLite has a single writer anyway, and turns then queue fairly in
        # the pool instead of sleeping in SQLite's busy handler (p99 of a vote turn under
        # load fell from seconds to tenths, bench/vote_turn.py). BEGIN IMMEDIATE takes the
        # write lock at BEGIN, so two writers queue instead of deadlocking.
        return _sqlite_engine(url, pool_size=1, pragmas=_WRITER_PRAGMAS, begin="BEGIN IMMEDIATE")
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def create_read_engine(url: str, *, pool_size: int = 4) -> AsyncEngine | None:
    """On SQLite, an engine for views: connections of their own that only read. In WAL
    mode readers never wait for the writer (nor it for them), so a turn that only looks
    no longer queues behind the dispatch tick and other turns for the one connection
    that writes. Each read transaction sees one snapshot (a deferred BEGIN).

    None for other databases: PostgreSQL's pool already gives reads their own connections.
    """
    if not url.startswith("sqlite"):
        return None
    return _sqlite_engine(url, pool_size=pool_size, pragmas=_READER_PRAGMAS, begin="BEGIN")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
