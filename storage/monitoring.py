"""What an operator watches in the database: how much the outbox holds and how late, and
whether the schema is the one this code expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from alembic.script import ScriptDirectory
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.migrate import alembic_config, current_revision
from storage.tables import outbox

# Sent rows are history, not depth; these are the states an operator acts on.
WATCHED_STATES = ("pending", "sending", "dead")


@dataclass(frozen=True)
class OutboxDepth:
    """Rows by state; `due` are the pending rows whose time has come (the backlog),
    `oldest_due_seconds` how long the oldest of them has waited (0 when none)."""

    by_state: dict[str, int] = field(default_factory=dict)
    due: int = 0
    oldest_due_seconds: float = 0.0


async def outbox_depth(engine: AsyncEngine, now: datetime) -> OutboxDepth:
    """Two index range scans over (status, due_at): cheap however much history is kept."""
    by_state = dict.fromkeys(WATCHED_STATES, 0)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(outbox.c.status, func.count())
            .where(outbox.c.status.in_(WATCHED_STATES))
            .group_by(outbox.c.status)
        )
        for status, count in rows:
            by_state[status] = int(count)
        due, oldest = (
            await connection.execute(
                select(func.count(), func.min(outbox.c.due_at)).where(
                    and_(outbox.c.status == "pending", outbox.c.due_at <= now)
                )
            )
        ).one()
    waited = (now - oldest).total_seconds() if oldest is not None else 0.0
    return OutboxDepth(by_state=by_state, due=int(due), oldest_due_seconds=max(0.0, waited))


@dataclass(frozen=True)
class SchemaStatus:
    """The database's migration revision and the newest this code knows."""

    current: str | None
    head: str
    known: bool  # whether this code knows the database's revision at all

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head() or ""
    current = await current_revision(engine)
    known = current is None or any(rev.revision == current for rev in script.walk_revisions())
    return SchemaStatus(current=current, head=head, known=known)
