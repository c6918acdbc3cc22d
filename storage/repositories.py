"""Repositories over one AsyncSession; the unit of work owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.consultation import (
    OPEN_FOR_TRIAGE,
    CaseStatus,
    Consultation,
    DeclineRoute,
    Outcome,
    RequestDetails,
    Transition,
    format_case_number,
)
from consultations.errors import Conflict
from consultations.lists import Page
from consultations.model import (
    FailedDelivery,
    OutgoingMessage,
    Profession,
    RecipientType,
    Role,
    Team,
    TeamInstallation,
    TeamSettings,
    User,
    UserRef,
)
from consultations.ports import TriageRow
from storage.audit_writer import AuditWriter
from storage.paging import TOTAL, page_by_key, page_rows
from storage.tables import (
    audit_events,
    case_counters,
    case_notes,
    case_transitions,
    channels,
    consultations,
    outbox,
    role_grants,
    team_members,
    teams,
    users,
)


def _user(row: RowMapping | Mapping[str, Any]) -> User:
    return User(
        id=row["id"],
        teams_user_id=row["teams_user_id"],
        aad_object_id=row["aad_object_id"],
        name=row["name"],
        locale=row["locale"],
        profession=Profession(row["profession"]) if row["profession"] else None,
        tenant_id=row["tenant_id"],
        service_url=row["service_url"],
        personal_conversation_id=row["personal_conversation_id"],
        unreachable_since=row["unreachable_since"],
        bot_id=row["bot_id"],
        language=row["language"],
    )


def _team(row: RowMapping) -> Team:
    return Team(
        id=row["id"],
        teams_team_id=row["teams_team_id"],
        name=row["name"],
        tenant_id=row["tenant_id"],
        service_url=row["service_url"],
        general_channel_id=row["general_channel_id"],
        settings=TeamSettings.from_json(row["settings"]),
    )


class SqlAlchemyUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def upsert(self, ref: UserRef, now: datetime) -> User:
        existing = (
            (await self._s.execute(select(users).where(users.c.teams_user_id == ref.teams_user_id)))
            .mappings()
            .first()
        )
        values: dict[str, Any] = {"updated_at": now}
        # Keep what we knew when Teams leaves a field out (rosters carry no locale).
        for column, value in (
            ("aad_object_id", (ref.aad_object_id or "").lower() or None),
            ("name", ref.name),
            ("locale", ref.locale),
            ("tenant_id", ref.tenant_id),
            ("service_url", ref.service_url),
            ("bot_id", ref.bot_id),
        ):
            if value:
                values[column] = value
        if existing is None:
            inserted = await self._s.execute(
                insert(users)
                .returning(users.c.id)
                .values(
                    teams_user_id=ref.teams_user_id,
                    created_at=now,
                    **{
                        "name": "",
                        "locale": "",
                        "tenant_id": "",
                        "service_url": "",
                        "bot_id": "",
                        **values,
                    },
                )
            )
            user_id = inserted.scalar_one()
        else:
            changed = {k: v for k, v in values.items() if k != "updated_at" and existing[k] != v}
            # Most turns come from someone the bot knows as they are: write nothing then.
            if changed:
                await self._s.execute(
                    update(users).where(users.c.id == existing["id"]).values(**values)
                )
            return _user({**existing, **changed})
        user = await self.get(int(user_id))
        assert user is not None
        return user

    async def get(self, user_id: int) -> User | None:
        row = (await self._s.execute(select(users).where(users.c.id == user_id))).mappings().first()
        return _user(row) if row else None

    async def get_many(self, user_ids: Sequence[int]) -> dict[int, User]:
        rows = (
            await self._s.execute(select(users).where(users.c.id.in_(list(user_ids))))
        ).mappings()
        return {row["id"]: _user(row) for row in rows}

    async def by_teams_id(self, teams_user_id: str) -> User | None:
        row = (
            (await self._s.execute(select(users).where(users.c.teams_user_id == teams_user_id)))
            .mappings()
            .first()
        )
        return _user(row) if row else None

    async def changed_since(self, since: datetime) -> list[User]:
        rows = (await self._s.execute(select(users).where(users.c.updated_at > since))).mappings()
        return [_user(row) for row in rows]

    async def set_personal_conversation(
        self, user_id: int, conversation_id: str, now: datetime
    ) -> None:
        await self._s.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                personal_conversation_id=conversation_id, unreachable_since=None, updated_at=now
            )
        )

    async def set_language(self, user_id: int, language: str | None, now: datetime) -> None:
        await self._s.execute(
            update(users).where(users.c.id == user_id).values(language=language, updated_at=now)
        )

    async def set_profession(self, user_id: int, profession: Profession, now: datetime) -> None:
        await self._s.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(profession=profession.value, updated_at=now)
        )

    async def mark_unreachable(self, user_id: int, now: datetime) -> bool:
        result = await self._s.execute(
            update(users)
            .where(users.c.id == user_id, users.c.unreachable_since.is_(None))
            .values(unreachable_since=now, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def clear_unreachable(self, user_id: int, now: datetime) -> None:
        await self._s.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(unreachable_since=None, updated_at=now)
        )


class SqlAlchemyTeamRepository:
    def __init__(self, session: AsyncSession, users_repo: SqlAlchemyUserRepository) -> None:
        self._s = session
        self._users = users_repo

    async def save_installation(
        self, installation: TeamInstallation, installer_id: int | None, now: datetime
    ) -> Team:
        row = (
            (
                await self._s.execute(
                    select(teams).where(teams.c.teams_team_id == installation.teams_team_id)
                )
            )
            .mappings()
            .first()
        )
        values = {
            "name": installation.name,
            "tenant_id": installation.tenant_id,
            "service_url": installation.service_url,
            "general_channel_id": installation.general_channel_id,
            "installed": True,
            "updated_at": now,
        }
        if row is None:
            inserted = await self._s.execute(
                insert(teams)
                .returning(teams.c.id)
                .values(
                    teams_team_id=installation.teams_team_id,
                    installed_by=installer_id,
                    created_at=now,
                    **values,
                )
            )
            team_id = inserted.scalar_one()
        else:
            team_id = int(row["id"])
            if row["installed_by"] is None and installer_id is not None:
                values["installed_by"] = installer_id
            await self._s.execute(update(teams).where(teams.c.id == team_id).values(**values))

        await self._s.execute(delete(channels).where(channels.c.team_id == team_id))
        if installation.channels:
            await self._s.execute(
                insert(channels),
                [
                    {"team_id": team_id, "channel_id": cid, "name": name}
                    for cid, name in dict(installation.channels).items()
                ],
            )

        member_ids: set[int] = set()
        for ref in installation.roster:
            member_ids.add((await self._users.upsert(ref, now)).id)
        if installer_id is not None:
            member_ids.add(installer_id)
        known = set(
            (
                await self._s.execute(
                    select(team_members.c.user_id).where(team_members.c.team_id == team_id)
                )
            ).scalars()
        )
        new = member_ids - known
        if new:
            await self._s.execute(
                insert(team_members),
                [{"team_id": team_id, "user_id": uid, "active": True} for uid in sorted(new)],
            )
        if installation.roster:
            # Someone no longer in the Teams team is no longer on the roster.
            await self._s.execute(
                update(team_members)
                .where(team_members.c.team_id == team_id)
                .values(active=team_members.c.user_id.in_(member_ids))
            )
        team = await self.get(int(team_id))
        assert team is not None
        return team

    async def get(self, team_id: int) -> Team | None:
        row = (await self._s.execute(select(teams).where(teams.c.id == team_id))).mappings().first()
        return _team(row) if row else None

    async def by_teams_id(self, teams_team_id: str) -> Team | None:
        row = (
            (await self._s.execute(select(teams).where(teams.c.teams_team_id == teams_team_id)))
            .mappings()
            .first()
        )
        return _team(row) if row else None

    async def teams_of(self, user_id: int) -> Sequence[Team]:
        rows = (
            await self._s.execute(
                select(teams)
                .join(team_members, team_members.c.team_id == teams.c.id)
                .where(team_members.c.user_id == user_id, team_members.c.active.is_(True))
                .order_by(teams.c.name, teams.c.id)
            )
        ).mappings()
        return [_team(r) for r in rows]

    async def coordinated_by(self, user_id: int) -> Sequence[Team]:
        rows = (
            await self._s.execute(
                select(teams)
                .join(team_members, team_members.c.team_id == teams.c.id)
                .join(
                    role_grants,
                    and_(
                        role_grants.c.team_id == teams.c.id,
                        role_grants.c.user_id == team_members.c.user_id,
                    ),
                )
                .where(
                    team_members.c.user_id == user_id,
                    team_members.c.active.is_(True),
                    role_grants.c.role == Role.COORDINATOR.value,
                )
                .order_by(teams.c.name, teams.c.id)
            )
        ).mappings()
        return [_team(r) for r in rows]

    async def members(self, team_id: int) -> Sequence[User]:
        rows = (
            await self._s.execute(
                select(users)
                .join(team_members, team_members.c.user_id == users.c.id)
                .where(team_members.c.team_id == team_id, team_members.c.active.is_(True))
                .order_by(users.c.name, users.c.id)
            )
        ).mappings()
        return [_user(r) for r in rows]

    async def members_with_roles(
        self, team_id: int, *, limit: int, offset: int = 0
    ) -> Page[tuple[User, frozenset[Role]]]:
        coordinator = exists().where(
            role_grants.c.team_id == team_id,
            role_grants.c.user_id == users.c.id,
            role_grants.c.role == Role.COORDINATOR.value,
        )
        query = (
            select(users)
            .join(team_members, team_members.c.user_id == users.c.id)
            .where(team_members.c.team_id == team_id, team_members.c.active.is_(True))
            .order_by(case((coordinator, 0), else_=1), users.c.name, users.c.id)
        )
        rows, totals = await page_rows(self._s, query, limit, offset)
        held: dict[int, set[Role]] = {row["id"]: set() for row in rows}
        if held:
            grants = await self._s.execute(
                select(role_grants.c.user_id, role_grants.c.role).where(
                    role_grants.c.team_id == team_id, role_grants.c.user_id.in_(list(held))
                )
            )
            for user_id, role in grants:
                held[user_id].add(Role(role))
        items = [(_user(row), frozenset(held[row["id"]])) for row in rows]
        return Page(items, offset, totals[TOTAL])

    async def is_member(self, team_id: int, user_id: int) -> bool:
        found = await self._s.scalar(
            select(func.count()).where(
                team_members.c.team_id == team_id,
                team_members.c.user_id == user_id,
                team_members.c.active.is_(True),
            )
        )
        return bool(found)

    async def installer_id(self, team_id: int) -> int | None:
        value = await self._s.scalar(select(teams.c.installed_by).where(teams.c.id == team_id))
        return int(value) if value is not None else None

    async def holders(self, team_id: int, role: Role) -> Sequence[User]:
        rows = (
            await self._s.execute(
                select(users)
                .join(role_grants, role_grants.c.user_id == users.c.id)
                .where(role_grants.c.team_id == team_id, role_grants.c.role == role.value)
                .order_by(users.c.name, users.c.id)
            )
        ).mappings()
        return [_user(r) for r in rows]

    async def roles_of(self, team_id: int, user_id: int) -> frozenset[Role]:
        values = (
            await self._s.execute(
                select(role_grants.c.role).where(
                    role_grants.c.team_id == team_id, role_grants.c.user_id == user_id
                )
            )
        ).scalars()
        return frozenset(Role(v) for v in values)

    async def grant(
        self, team_id: int, user_id: int, role: Role, granted_by: int | None, now: datetime
    ) -> bool:
        if role in await self.roles_of(team_id, user_id):
            return False
        await self._s.execute(
            insert(role_grants).values(
                team_id=team_id,
                user_id=user_id,
                role=role.value,
                granted_by=granted_by,
                granted_at=now,
            )
        )
        return True

    async def revoke(self, team_id: int, user_id: int, role: Role) -> bool:
        result = await self._s.execute(
            delete(role_grants).where(
                role_grants.c.team_id == team_id,
                role_grants.c.user_id == user_id,
                role_grants.c.role == role.value,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def save_settings(self, team_id: int, settings: TeamSettings, now: datetime) -> None:
        await self._s.execute(
            update(teams)
            .where(teams.c.id == team_id)
            .values(settings=settings.to_json(), updated_at=now)
        )

    async def all(self) -> Sequence[Team]:
        rows = (
            await self._s.execute(
                select(teams).where(teams.c.installed.is_(True)).order_by(teams.c.id)
            )
        ).mappings()
        return [_team(r) for r in rows]


# Statements run on nearly every turn, built once so SQLAlchemy keeps their cache keys.
_CANCEL = (
    update(outbox)
    .where(outbox.c.idempotency_key == bindparam("key"), outbox.c.status == "pending")
    .values(status="cancelled")
)
_AUDIT = insert(audit_events)


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


def consultation_from_row(row: RowMapping, history: list[Transition]) -> Consultation:
    return Consultation(
        id=row["id"],
        requester_id=row["requester_id"],
        details=RequestDetails.from_json(row["details"]),
        status=CaseStatus(row["status"]),
        case_number=row["case_number"],
        created_at=row["created_at"],
        submitted_at=row["submitted_at"],
        pending_question=row["pending_question"],
        decline_reason=row["decline_reason"],
        decline_route=DeclineRoute(row["decline_route"]) if row["decline_route"] else None,
        draft_page=row["draft_page"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        version=row["version"],
        history=history,
    )


_ROW = "own_row"


def _own(drafts: bool) -> Any:
    """A page of each requester's own requests (or drafts), and each one's total.

    Every requester's first row comes back even when their page starts past it (`first`),
    so the total is known for a list asked past its end too."""
    status = consultations.c.status
    if drafts:
        kept = status == CaseStatus.DRAFT.value
        order: list[Any] = [consultations.c.updated_at.desc(), consultations.c.id.desc()]
    else:
        kept = status.not_in([CaseStatus.DRAFT.value]) & ~(
            (status == CaseStatus.WITHDRAWN.value) & consultations.c.case_number.is_(None)
        )
        order = [
            # A question waiting for the requester's answer first: it waits for them.
            case((status == CaseStatus.NEEDS_INFO.value, 0), else_=1),
            consultations.c.created_at.desc(),
            consultations.c.id.desc(),
        ]
    numbered = (
        select(
            consultations,
            func.row_number()
            .over(partition_by=consultations.c.requester_id, order_by=order)
            .label(_ROW),
            func.count().over(partition_by=consultations.c.requester_id).label(TOTAL),
        )
        .where(consultations.c.requester_id.in_(bindparam("ids", expanding=True)), kept)
        .subquery("own")
    )
    return (
        select(numbered)
        .where(
            (numbered.c[_ROW] == 1)
            | ((numbered.c[_ROW] > bindparam("first")) & (numbered.c[_ROW] <= bindparam("last")))
        )
        .order_by(numbered.c.requester_id, numbered.c[_ROW])
    )


_OWN_REQUESTS = _own(drafts=False)
_OWN_DRAFTS = _own(drafts=True)


class SqlAlchemyConsultationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session
        # How many transitions each loaded case had, so `save` writes only the new ones.
        self._persisted: dict[int, int] = {}

    def _values(self, case: Consultation, now: datetime) -> dict[str, Any]:
        return {
            "case_number": case.case_number,
            "requester_id": case.requester_id,
            "team_id": case.details.team_id,
            "status": case.status.value,
            "details": case.details.to_json(),
            "draft_page": case.draft_page,
            "pending_question": case.pending_question,
            "decline_reason": case.decline_reason,
            "decline_route": case.decline_route.value if case.decline_route else None,
            "outcome": case.outcome.value if case.outcome else None,
            "submitted_at": case.submitted_at,
            "updated_at": now,
        }

    async def _write_transitions(self, case: Consultation) -> None:
        assert case.id is not None
        new = case.history[self._persisted.get(case.id, 0) :]
        if new:
            await self._s.execute(
                insert(case_transitions),
                [
                    {
                        "consultation_id": case.id,
                        "from_status": t.from_status.value if t.from_status else None,
                        "to_status": t.to_status.value,
                        "actor_user_id": t.actor_user_id,
                        "at": t.at,
                        "reason": t.reason[:64],
                    }
                    for t in new
                ],
            )
        self._persisted[case.id] = len(case.history)

    async def add(self, consultation: Consultation, now: datetime) -> Consultation:
        inserted = await self._s.execute(
            insert(consultations)
            .returning(consultations.c.id)
            .values(created_at=now, version=0, **self._values(consultation, now))
        )
        consultation.id = int(inserted.scalar_one())
        consultation.created_at = now
        if not consultation.history:
            consultation.history.append(
                Transition(None, consultation.status, consultation.requester_id, now, "created")
            )
        await self._write_transitions(consultation)
        return consultation

    async def get(self, consultation_id: int) -> Consultation | None:
        row = (
            (
                await self._s.execute(
                    select(consultations).where(consultations.c.id == consultation_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        steps = (
            await self._s.execute(
                select(case_transitions)
                .where(case_transitions.c.consultation_id == consultation_id)
                .order_by(case_transitions.c.id)
            )
        ).mappings()
        history = [
            Transition(
                CaseStatus(t["from_status"]) if t["from_status"] else None,
                CaseStatus(t["to_status"]),
                t["actor_user_id"],
                t["at"],
                t["reason"],
            )
            for t in steps
        ]
        self._persisted[consultation_id] = len(history)
        return consultation_from_row(row, history)

    async def save(self, consultation: Consultation, now: datetime) -> None:
        assert consultation.id is not None
        result = await self._s.execute(
            update(consultations)
            .where(
                consultations.c.id == consultation.id,
                consultations.c.version == consultation.version,
            )
            .values(version=consultation.version + 1, **self._values(consultation, now))
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise Conflict()
        consultation.version += 1
        await self._write_transitions(consultation)

    async def next_case_number(self, year: int) -> str:
        # One row per year, incremented in place: the row lock serialises concurrent
        # submits on PostgreSQL, SQLite's single writer does the same.
        bumped = await self._s.execute(
            update(case_counters)
            .where(case_counters.c.year == year)
            .values(last_value=case_counters.c.last_value + 1)
            .returning(case_counters.c.last_value)
        )
        value = bumped.scalar_one_or_none()
        if value is None:
            try:
                async with self._s.begin_nested():
                    await self._s.execute(insert(case_counters).values(year=year, last_value=1))
                value = 1
            except IntegrityError:
                # Someone created this year's row between our update and insert.
                bumped = await self._s.execute(
                    update(case_counters)
                    .where(case_counters.c.year == year)
                    .values(last_value=case_counters.c.last_value + 1)
                    .returning(case_counters.c.last_value)
                )
                value = bumped.scalar_one()
        return format_case_number(year, int(value))

    async def of_requester(
        self, user_id: int, *, drafts: bool, limit: int, offset: int = 0
    ) -> Page[Consultation]:
        pages = await self.of_requesters([user_id], drafts=drafts, limit=limit, offset=offset)
        return pages[user_id]

    async def of_requesters(
        self, user_ids: Sequence[int], *, drafts: bool, limit: int, offset: int = 0
    ) -> dict[int, Page[Consultation]]:
        # One statement for every requester asked at once (people open their lists
        # together at the start of a day): each one's page and true total, by window
        # functions partitioned by requester.
        ids = sorted(set(user_ids))
        query = _OWN_DRAFTS if drafts else _OWN_REQUESTS
        found = await self._s.execute(query, {"ids": ids, "first": offset, "last": offset + limit})
        items: dict[int, list[Consultation]] = {user_id: [] for user_id in ids}
        totals: dict[int, int] = dict.fromkeys(ids, 0)
        for row in found.mappings():
            totals[row["requester_id"]] = int(row[TOTAL])
            if row[_ROW] > offset:
                items[row["requester_id"]].append(consultation_from_row(row, []))
        return {user_id: Page(items[user_id], offset, totals[user_id]) for user_id in ids}

    @staticmethod
    def _queue(team_ids: Sequence[int]) -> Any:
        return and_(
            consultations.c.team_id.in_(list(team_ids)),
            consultations.c.status.in_([s.value for s in OPEN_FOR_TRIAGE]),
        )

    @staticmethod
    def _overdue(overdue_before: datetime) -> Any:
        # consultations.consultation.triage_overdue, as SQL: the coordinators hold it, and
        # it has waited long enough (BusinessCalendar.waited_since_before).
        waiting_since = func.coalesce(consultations.c.submitted_at, consultations.c.created_at)
        return case(
            (
                and_(
                    consultations.c.status == CaseStatus.SUBMITTED.value,
                    waiting_since < overdue_before,
                ),
                1,
            ),
            else_=0,
        )

    async def triage_queue(
        self, team_ids: Sequence[int], overdue_before: datetime, *, limit: int, offset: int = 0
    ) -> tuple[Page[TriageRow], int]:
        overdue = self._overdue(overdue_before)
        keys = select(
            consultations.c.id.label("key"),
            overdue.label("late"),
            func.coalesce(consultations.c.submitted_at, consultations.c.created_at).label("since"),
        ).where(self._queue(team_ids))

        def full(page: Any) -> Any:
            return select(consultations, users.c.name.label("requester_name")).select_from(
                page.join(consultations, consultations.c.id == page.c.key).join(
                    users, users.c.id == consultations.c.requester_id
                )
            )

        rows, totals = await page_by_key(
            self._s,
            keys,
            [("late", True), ("since", False)],
            full,
            limit,
            offset,
            overdue_total=overdue,
        )
        items = [TriageRow(consultation_from_row(row, []), row["requester_name"]) for row in rows]
        return Page(items, offset, totals[TOTAL]), totals["overdue_total"]

    async def triage_counts(
        self, team_ids: Sequence[int], overdue_before: datetime
    ) -> Mapping[int, tuple[int, int]]:
        if not team_ids:
            return {}
        rows = await self._s.execute(
            select(
                consultations.c.team_id,
                func.count(),
                func.sum(self._overdue(overdue_before)),
            )
            .where(self._queue(team_ids))
            .group_by(consultations.c.team_id)
        )
        return {int(team_id): (int(n), int(late or 0)) for team_id, n, late in rows}

    async def add_note(
        self, consultation_id: int, author_user_id: int, kind: str, text: str, at: datetime
    ) -> None:
        await self._s.execute(
            insert(case_notes).values(
                consultation_id=consultation_id,
                author_user_id=author_user_id,
                kind=kind,
                text=text,
                at=at,
            )
        )

    async def notes(self, consultation_id: int) -> Sequence[tuple[str, str, datetime]]:
        rows = await self._s.execute(
            select(case_notes.c.kind, case_notes.c.text, case_notes.c.at)
            .where(case_notes.c.consultation_id == consultation_id)
            .order_by(case_notes.c.id)
        )
        return [(kind, text, at) for kind, text, at in rows]
