"""JSON documents with e-tags: the durable home of the bot's dialog and conversation state."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.tables import bot_state


class ETagConflict(Exception):
    """The document changed since it was read: someone else's turn wrote it first."""

    def __init__(self, key: str) -> None:
        super().__init__(f"document changed since it was read: {key}")
        self.key = key


class SqlAlchemyDocumentStore:
    """Optimistic concurrency per document.

    `write` takes the e-tag the caller read (None for "I read nothing", "*" to overwrite
    whatever is there) and fails with ETagConflict when the stored one differs.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def read(self, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
        keys = list(keys)
        if not keys:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(bot_state.c.key, bot_state.c.document, bot_state.c.etag).where(
                    bot_state.c.key.in_(keys)
                )
            )
            return {key: (document, etag) for key, document, etag in rows}

    async def write(
        self, changes: Mapping[str, tuple[str, str | None]], now: datetime
    ) -> dict[str, str]:
        """Write all documents in one transaction; return their new e-tags."""
        new_etags: dict[str, str] = {}
        async with self._sessions() as session, session.begin():
            for key, (document, expected) in changes.items():
                etag = uuid.uuid4().hex
                if expected is None:
                    # The caller saw no document: creating is fine, clobbering a
                    # concurrent creation is not.
                    try:
                        async with session.begin_nested():
                            await session.execute(
                                insert(bot_state).values(
                                    key=key, document=document, etag=etag, updated_at=now
                                )
                            )
                    except IntegrityError:
                        raise ETagConflict(key) from None
                else:
                    query = update(bot_state).where(bot_state.c.key == key)
                    if expected != "*":
                        query = query.where(bot_state.c.etag == expected)
                    result = await session.execute(
                        query.values(document=document, etag=etag, updated_at=now)
                    )
                    if not result.rowcount:  # type: ignore[attr-defined]
                        if expected != "*":
                            raise ETagConflict(key)
                        await session.execute(
                            insert(bot_state).values(
                                key=key, document=document, etag=etag, updated_at=now
                            )
                        )
                new_etags[key] = etag
        return new_etags

    async def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(delete(bot_state).where(bot_state.c.key.in_(keys)))
