"""The producer side of the outbox: rows written in the caller's transaction
(the consumer side is storage.delivery_queue)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.lists import Page
from consultations.model import (
    FailedDelivery,
    OutgoingMessage,
    RecipientType,
)
from storage.paging import TOTAL, page_rows
from storage.tables import (
    outbox,
    users,
)

# Statements run on nearly every turn, built once so SQLAlchemy keeps their cache keys.
_CANCEL = (
    update(outbox)
    .where(outbox.c.idempotency_key == bindparam("key"), outbox.c.status == "pending")
    .values(status="cancelled")
)


class SqlAlchemyOutbox:
    """The producer side of the outbox: rows written in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, message: OutgoingMessage, now: datetime) -> bool:
        # INSERT … ON CONFLICT DO NOTHING: two instances queueing the same key at the same
        # moment (the digest at start) both succeed, and one row results.
        dialect = self._s.get_bind().dialect.name
        statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(outbox)
        result = await self._s.execute(
            statement.values(
                idempotency_key=message.idempotency_key,
                kind=message.kind,
                subject=message.subject,
                recipient_type=message.recipient_type.value,
                recipient_id=message.recipient_id,
                team_id=message.team_id,
                payload=message.payload,
                due_at=message.due_at,
                status="pending",
                attempts=0,
                created_at=now,
            ).on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def cancel(self, idempotency_key: str) -> int:
        result = await self._s.execute(_CANCEL, {"key": idempotency_key})
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def cancel_subject(self, subject: str, *, keep: Collection[str] = ()) -> int:
        statement = update(outbox).where(outbox.c.subject == subject, outbox.c.status == "pending")
        if keep:
            statement = statement.where(outbox.c.idempotency_key.not_in(list(keep)))
        result = await self._s.execute(statement.values(status="cancelled"))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def failures(
        self, team_ids: Sequence[int] | None, *, limit: int, offset: int = 0
    ) -> Page[FailedDelivery]:
        query = (
            select(
                outbox.c.id,
                outbox.c.kind,
                outbox.c.recipient_type,
                outbox.c.recipient_id,
                outbox.c.attempts,
                outbox.c.last_error,
                outbox.c.due_at,
                users.c.name.label("user_name"),
            )
            .outerjoin(
                users,
                and_(
                    outbox.c.recipient_type == RecipientType.USER.value,
                    outbox.c.recipient_id == func.cast(users.c.id, outbox.c.recipient_id.type),
                ),
            )
            .where(outbox.c.status == "dead")
            .order_by(outbox.c.due_at.desc(), outbox.c.id.desc())
        )
        if team_ids is not None:
            query = query.where(outbox.c.team_id.in_(list(team_ids)))
        rows, totals = await page_rows(self._s, query, limit, offset)
        items = [
            FailedDelivery(
                id=r["id"],
                kind=r["kind"],
                recipient_type=RecipientType(r["recipient_type"]),
                recipient_id=r["recipient_id"],
                recipient_name=r["user_name"] or "",
                attempts=r["attempts"],
                last_error=r["last_error"] or "",
                due_at=r["due_at"],
            )
            for r in rows
        ]
        return Page(items, offset, totals[TOTAL])

    async def failure_count(self, team_ids: Sequence[int] | None) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.status == "dead")
        if team_ids is not None:
            query = query.where(outbox.c.team_id.in_(list(team_ids)))
        return int(await self._s.scalar(query) or 0)
