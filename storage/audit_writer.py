"""Audit records of views, written together (group commit).

Every view of a case writes who looked (SPEC §5), so a turn that only reads would pay for
a write transaction of its own: on SQLite's one writer that capped `omat` at about 200
turns a second. A view's records are handed here at its commit and the caller waits until
they are durable; records that arrive while a batch is being written share the next
transaction (consultations.batches). Nobody hears "done" before their record is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consultations.batches import Batcher
from storage.tables import audit_events

_AUDIT = insert(audit_events)
MAX_BATCH = 500

Records = list[dict[str, Any]]


class AuditWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._batcher: Batcher[Records, None] = Batcher(self._write, max_batch=MAX_BATCH, size=len)

    @property
    def batches(self) -> int:
        """Transactions written (tests, benchmarks)."""
        return self._batcher.batches

    async def write(self, records: Records) -> None:
        """Return once the records are committed; raise what failed their batch."""
        await self._batcher.submit(records)

    async def _write(self, batch: list[Records]) -> Sequence[None]:
        async with self._sessions() as session, session.begin():
            await session.execute(_AUDIT, [record for records in batch for record in records])
        return [None] * len(batch)
