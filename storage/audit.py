"""The audit trail's writer inside a unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit_writer import AuditWriter
from storage.tables import (
    audit_events,
)

_AUDIT = insert(audit_events)


class SqlAlchemyAuditLog:
    """Audit records are written with the commit, all in one statement: nothing reads
    them back inside a transaction, and a vote batch records one per voter.

    With `writer` (a view, whose unit of work writes nothing else) they are handed to
    the shared writer at commit, which writes the records of views that commit together
    in one transaction (storage.audit_writer)."""

    def __init__(self, session: AsyncSession, writer: AuditWriter | None = None) -> None:
        self._s = session
        self._writer = writer
        self._pending: list[dict[str, Any]] = []

    async def record(
        self,
        *,
        at: datetime,
        actor_user_id: int | None,
        action: str,
        subject_type: str,
        subject_id: str,
        team_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self._pending.append(
            {
                "at": at,
                "actor_user_id": actor_user_id,
                "action": action,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "team_id": team_id,
                "details": details or {},
            }
        )

    async def flush(self) -> None:
        """Write what was recorded; the unit of work calls this just before it commits."""
        if self._pending:
            pending, self._pending = self._pending, []
            if self._writer is None:
                await self._s.execute(_AUDIT, pending)
                return
            await self._writer.write(pending)
