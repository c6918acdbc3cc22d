"""The unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.audit import SqlAlchemyAuditLog
from storage.audit_writer import AuditWriter
from storage.case_records import SqlAlchemyCaseRecords
from storage.consultations import SqlAlchemyConsultationRepository
from storage.followup import SqlAlchemyFollowUpRepository
from storage.outbox import SqlAlchemyOutbox
from storage.polls import PollShapes, SqlAlchemyPollRepository
from storage.retention import SqlAlchemyRetentionStore
from storage.teams import SqlAlchemyTeamRepository
from storage.users import SqlAlchemyUserRepository


class SqlAlchemyUnitOfWork:
    users: SqlAlchemyUserRepository
    teams: SqlAlchemyTeamRepository
    outbox: SqlAlchemyOutbox
    audit: SqlAlchemyAuditLog
    consultations: SqlAlchemyConsultationRepository
    polls: SqlAlchemyPollRepository
    followup: SqlAlchemyFollowUpRepository
    retention: SqlAlchemyRetentionStore
    case_records: SqlAlchemyCaseRecords

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        poll_shapes: PollShapes | None = None,
        *,
        audit_to: AuditWriter | None = None,
    ) -> None:
        """`audit_to`: this unit of work is a view's, reading through `sessions` (on
        SQLite read only, storage.db.create_read_engine) and writing nothing but its audit
        records, which go to the shared `audit_to` at commit."""
        self._sessions = sessions
        self._poll_shapes = poll_shapes
        self._audit_to = audit_to
        self._session: AsyncSession | None = None
        self._depth = 0

    async def __aenter__(self) -> Self:
        # Re-entrant: a use case may call another inside the same transaction.
        self._depth += 1
        if self._session is None:
            self._session = self._sessions()
            self.users = SqlAlchemyUserRepository(self._session)
            self.teams = SqlAlchemyTeamRepository(self._session, self.users)
            self.outbox = SqlAlchemyOutbox(self._session)
            self.audit = SqlAlchemyAuditLog(self._session, self._audit_to)
            self.consultations = SqlAlchemyConsultationRepository(self._session)
            self.polls = SqlAlchemyPollRepository(self._session, self._poll_shapes)
            self.followup = SqlAlchemyFollowUpRepository(self._session)
            self.retention = SqlAlchemyRetentionStore(self._session)
            self.case_records = SqlAlchemyCaseRecords(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0 and self._session is not None:
            session, self._session = self._session, None
            try:
                await session.rollback()
            finally:
                await session.close()

    async def commit(self) -> None:
        assert self._session is not None, "commit outside `async with uow`"
        if self._depth == 1:
            await self.audit.flush()
            await self._session.commit()
