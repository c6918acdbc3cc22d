"""A named lease several instances share through the database: one holder at a time.

The outbox is sent by one instance at a time (the "dispatch" lease), so Teams' per-tenant
budget, which a process keeps with its own limiter, holds for the whole fleet; and when
the holder dies (kill -9, a lost host), whoever takes the lease over takes back at once
the rows it had claimed, instead of waiting for each row's own five-minute claim to run
out. Only rows that were in flight at the death can go out twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.tables import leases, outbox

DISPATCH = "dispatch"


class SqlAlchemyDispatchLease:
    """Implements the dispatcher's `DispatchLease` port."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        holder: str,
        ttl_seconds: float = 15.0,
        name: str = DISPATCH,
    ) -> None:
        self._sessions = sessions
        self.holder = holder
        self._ttl = timedelta(seconds=ttl_seconds)
        self._name = name
        self._held = False
        self.takeovers = 0  # how many times this instance took the lease from another

    async def hold(self, now: datetime) -> bool:
        """Take or renew the lease; True while this instance holds it. Taking it from
        another holder (or first taking it in this process) releases that holder's claims."""
        until = now + self._ttl
        async with self._sessions() as session, session.begin():
            row = (
                await session.execute(
                    select(leases.c.holder, leases.c.until)
                    .where(leases.c.name == self._name)
                    .with_for_update()
                )
            ).first()
            if row is None:
                try:
                    async with session.begin_nested():
                        await session.execute(
                            insert(leases).values(name=self._name, holder=self.holder, until=until)
                        )
                except IntegrityError:
                    self._held = False  # another instance created it first
                    return False
            elif row.holder == self.holder or row.until < now:
                await session.execute(
                    update(leases)
                    .where(leases.c.name == self._name)
                    .values(holder=self.holder, until=until)
                )
            else:
                self._held = False
                return False
            if not self._held:
                # Whatever another instance left claimed goes back to the queue now.
                await session.execute(
                    update(outbox)
                    .where(
                        outbox.c.status == "sending",
                        or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_by != self.holder),
                    )
                    .values(status="pending", claimed_until=None, claimed_by=None, due_at=now)
                )
                if row is not None and row.holder != self.holder:
                    self.takeovers += 1
            self._held = True
            return True
