"""The consumer side of the outbox: claim due rows under a lease, settle each one."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import and_, case, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from consultations.model import ClaimedMessage, RecipientType
from storage.tables import outbox

# A reply handed over from a turn carries the card itself: once settled, only the row's
# bookkeeping stays (SPEC §5, nothing kept longer than needed).
_SETTLED_PAYLOAD = case((outbox.c.kind == "reply", literal("{}")), else_=outbox.c.payload)


class SqlAlchemyDeliveryQueue:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], holder: str | None = None
    ) -> None:
        self._sessions = sessions
        # Written on every claim, so a new dispatch leader knows what a dead one held.
        self._holder = holder
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._pending: list[tuple[int, dict[str, object], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def claim_due(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[ClaimedMessage]:
        """Take up to `limit` due rows for this dispatcher.

        A row is due when it is pending and its time has come, or when another dispatcher
        claimed it and its lease ran out (that dispatcher died mid-send). On PostgreSQL
        `FOR UPDATE SKIP LOCKED` lets any number of dispatchers claim side by side without
        waiting for or doubling each other; SQLite has a single writer, so the claiming
        transaction (BEGIN IMMEDIATE) is atomic anyway.
        """
        async with self._sessions() as session, session.begin():
            due = or_(
                and_(outbox.c.status == "pending", outbox.c.due_at <= now),
                and_(outbox.c.status == "sending", outbox.c.claimed_until < now),
            )
            query = (
                select(outbox)
                .where(due)
                .order_by(outbox.c.due_at, outbox.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list((await session.execute(query)).mappings())
            if not rows:
                return []
            await session.execute(
                update(outbox)
                .where(outbox.c.id.in_([r["id"] for r in rows]))
                .values(
                    status="sending",
                    attempts=outbox.c.attempts + 1,
                    claimed_until=now + timedelta(seconds=lease_seconds),
                    claimed_by=self._holder,
                )
            )
            return [
                ClaimedMessage(
                    id=r["id"],
                    idempotency_key=r["idempotency_key"],
                    kind=r["kind"],
                    recipient_type=RecipientType(r["recipient_type"]),
                    recipient_id=r["recipient_id"],
                    team_id=r["team_id"],
                    payload=r["payload"],
                    due_at=r["due_at"],
                    attempts=r["attempts"] + 1,
                    subject=r["subject"],
                )
                for r in rows
            ]

    async def _settle(self, message_id: int, **values: object) -> None:
        """Settle one row; returns once its commit is durable.

        Settles that arrive while a commit is under way wait for the next one and share
        it (group commit): one transaction per burst instead of one per message, which is
        what a single-writer SQLite needs to keep up with a fan-out.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((message_id, values, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self._engine.begin() as connection:
                    for message_id, values, _future in batch:
                        # Only a row still in flight is settled: a cancel that raced wins.
                        await connection.execute(
                            update(outbox)
                            .where(outbox.c.id == message_id, outbox.c.status == "sending")
                            .values(claimed_until=None, claimed_by=None, **values)
                        )
            except Exception as error:  # noqa: BLE001 - every waiter hears of it
                for _id, _values, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _id, _values, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def mark_sent(
        self, message_id: int, now: datetime, activity_id: str | None, conversation_id: str | None
    ) -> None:
        await self._settle(
            message_id,
            status="sent",
            payload=_SETTLED_PAYLOAD,
            sent_at=now,
            sent_activity_id=activity_id,
            conversation_id=conversation_id,
            last_error=None,
        )

    async def mark_retry(self, message_id: int, due_at: datetime, error: str) -> None:
        await self._settle(message_id, status="pending", due_at=due_at, last_error=error[:500])

    async def release(self, message_id: int, due_at: datetime) -> None:
        await self._settle(
            message_id, status="pending", due_at=due_at, attempts=outbox.c.attempts - 1
        )

    async def mark_dead(self, message_id: int, now: datetime, error: str) -> None:
        await self._settle(
            message_id,
            status="dead",
            payload=_SETTLED_PAYLOAD,
            last_error=error[:500],
            sent_at=None,
        )
