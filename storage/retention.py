"""The retention job's SQL (SPEC §5): the county's policy, wiping the texts of expired
cases, idle drafts, and pruning what is kept only for a while."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.consultation import FINISHED, CaseStatus
from consultations.model import TeamSettings
from consultations.records import (
    ExpiredCase,
    IdleDraft,
    RetentionPolicy,
    anonymised_details,
    anonymised_plan,
)
from storage.case_records import delete_cases
from storage.db import UtcDateTime
from storage.tables import (
    audit_events,
    bot_state,
    case_notes,
    case_transitions,
    consultations,
    county_settings,
    feedback,
    handovers,
    meeting_summaries,
    outbox,
    polls,
    recommendation_events,
    recommendations,
    teams,
    users,
)

POLICY_KEY = "retention"
# Any fixed number (not the migration's): instances take turns at the daily job.
_JOB_LOCK = 7_420_146
# The plain text columns a case keeps in tables other than consultations; each row
# points at its case through `consultation_id` (recommendation events through their
# recommendation).
_TEXTS: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (case_notes, ("text",)),
    (polls, ("place",)),
    (recommendations, ("text", "reason")),
    (handovers, ("note", "reason")),
    (feedback, ("comment",)),
)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


class SqlAlchemyRetentionStore:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    def _dialect(self) -> str:
        return self._s.get_bind().dialect.name

    async def lock(self) -> bool:
        if self._dialect() != "postgresql":
            # SQLite: the transaction began with BEGIN IMMEDIATE, the one writer's lock.
            await self._s.execute(select(1))
            return True
        taken = await self._s.scalar(select(func.pg_try_advisory_xact_lock(literal(_JOB_LOCK))))
        return bool(taken)

    async def policy(self) -> RetentionPolicy:
        value = await self._s.scalar(
            select(county_settings.c.value).where(county_settings.c.key == POLICY_KEY)
        )
        return RetentionPolicy.from_json(value)

    async def save_policy(self, policy: RetentionPolicy, actor_id: int, now: datetime) -> None:
        insert = postgresql_insert if self._dialect() == "postgresql" else sqlite_insert
        values = {"value": policy.to_json(), "updated_at": now, "updated_by": actor_id}
        await self._s.execute(
            insert(county_settings)
            .values(key=POLICY_KEY, **values)
            .on_conflict_do_update(index_elements=["key"], set_=values)
        )

    async def team_periods(self) -> Mapping[int, int]:
        rows = await self._s.execute(
            select(teams.c.id, teams.c.settings).where(teams.c.settings.is_not(None))
        )
        periods = {
            team_id: TeamSettings.from_json(settings).retention_months for team_id, settings in rows
        }
        return {team_id: months for team_id, months in periods.items() if months}

    async def expired_cases(
        self, cutoffs: Mapping[int, datetime], default_cutoff: datetime, limit: int
    ) -> Sequence[ExpiredCase]:
        ended = (
            select(
                case_transitions.c.consultation_id.label("id"),
                func.max(case_transitions.c.at).label("ended_at"),
            )
            .group_by(case_transitions.c.consultation_id)
            .subquery()
        )
        default = literal(default_cutoff, UtcDateTime)
        cutoff: ColumnElement[Any] = (
            case(
                {team_id: literal(moment, UtcDateTime) for team_id, moment in cutoffs.items()},
                value=consultations.c.team_id,
                else_=default,
            )
            if cutoffs
            else default
        )
        rows = await self._s.execute(
            select(consultations.c.id, consultations.c.team_id, consultations.c.status)
            .join(ended, ended.c.id == consultations.c.id)
            .where(
                consultations.c.status.in_([s.value for s in FINISHED]),
                consultations.c.anonymised_at.is_(None),
                # A discarded draft was never a case: the draft rules delete it.
                consultations.c.submitted_at.is_not(None),
                ended.c.ended_at <= cutoff,
            )
            .order_by(ended.c.ended_at, consultations.c.id)
            .limit(limit)
            .with_for_update(of=consultations, skip_locked=True)
        )
        return [ExpiredCase(i, team, CaseStatus(status)) for i, team, status in rows]

    async def anonymise(self, case_ids: Sequence[int], now: datetime) -> None:
        if not case_ids:
            return
        ids = list(case_ids)
        rows = await self._s.execute(
            select(consultations.c.id, consultations.c.details).where(consultations.c.id.in_(ids))
        )
        for case_id, details in rows.all():
            await self._s.execute(
                update(consultations)
                .where(consultations.c.id == case_id)
                .values(
                    details=anonymised_details(details or {}),
                    pending_question="",
                    decline_reason="",
                    anonymised_at=now,
                    # A stale copy of the case, saved after this, must not write the texts back.
                    version=consultations.c.version + 1,
                )
            )
        await self._wipe(consultations.c.id.in_(ids), only_filled=False)

    async def wipe_late_texts(self) -> int:
        anonymised = select(consultations.c.id).where(consultations.c.anonymised_at.is_not(None))
        wiped = _rowcount(
            await self._s.execute(
                update(consultations)
                .where(
                    consultations.c.anonymised_at.is_not(None),
                    or_(
                        consultations.c.pending_question != "", consultations.c.decline_reason != ""
                    ),
                )
                .values(pending_question="", decline_reason="")
            )
        )
        return wiped + await self._wipe(consultations.c.id.in_(anonymised), only_filled=True)

    async def _wipe(self, cases: ColumnElement[bool], *, only_filled: bool) -> int:
        """Empty every text column of these cases' rows in the other tables."""
        case_ids = select(consultations.c.id).where(cases)
        wiped = 0
        for table, columns in _TEXTS:
            where: list[ColumnElement[bool]] = [table.c.consultation_id.in_(case_ids)]
            if only_filled:
                where.append(or_(*(table.c[c] != "" for c in columns)))
            result = await self._s.execute(
                update(table).where(*where).values(**dict.fromkeys(columns, ""))
            )
            wiped += _rowcount(result)
        events = recommendation_events.c.recommendation_id.in_(
            select(recommendations.c.id).where(recommendations.c.consultation_id.in_(case_ids))
        )
        result = await self._s.execute(
            update(recommendation_events)
            .where(events, *([recommendation_events.c.reason != ""] if only_filled else []))
            .values(reason="")
        )
        wiped += _rowcount(result)
        summaries = select(meeting_summaries.c.id, meeting_summaries.c.recommendations).where(
            meeting_summaries.c.consultation_id.in_(case_ids)
        )
        if only_filled:
            # A plan's texts cannot be told empty in SQL portably; a summary written after
            # its case was anonymised, or with findings, is wiped again.
            summaries = summaries.join(
                consultations, consultations.c.id == meeting_summaries.c.consultation_id
            ).where(
                or_(
                    meeting_summaries.c.findings != "",
                    meeting_summaries.c.updated_at > consultations.c.anonymised_at,
                )
            )
        for summary_id, plan in (await self._s.execute(summaries)).all():
            await self._s.execute(
                update(meeting_summaries)
                .where(meeting_summaries.c.id == summary_id)
                .values(findings="", recommendations=anonymised_plan(plan))
            )
            wiped += 1
        return wiped

    async def idle_drafts(self, touched_before: datetime, limit: int) -> Sequence[IdleDraft]:
        # Opening a draft touches it as much as saving it: both leave an audit record
        # by its requester.
        opened = (
            select(func.max(audit_events.c.at))
            .where(
                audit_events.c.subject_type == "consultation",
                audit_events.c.subject_id == cast(consultations.c.id, String),
                audit_events.c.actor_user_id == consultations.c.requester_id,
            )
            .scalar_subquery()
        )
        touched = case(
            (opened > consultations.c.updated_at, opened), else_=consultations.c.updated_at
        )
        rows = await self._s.execute(
            select(
                consultations.c.id,
                consultations.c.requester_id,
                consultations.c.team_id,
                consultations.c.updated_at,
                opened.label("opened"),
                consultations.c.draft_reminded_at,
            )
            .where(
                consultations.c.status == CaseStatus.DRAFT.value,
                consultations.c.updated_at <= touched_before,
                touched <= literal(touched_before, UtcDateTime),
            )
            .order_by(consultations.c.updated_at, consultations.c.id)
            .limit(limit)
        )
        return [
            IdleDraft(
                id=r["id"],
                requester_id=r["requester_id"],
                team_id=r["team_id"],
                last_touched=max(r["updated_at"], r["opened"] or r["updated_at"]),
                reminded_at=r["draft_reminded_at"],
            )
            for r in rows.mappings()
        ]

    async def mark_reminded(self, case_id: int, now: datetime) -> None:
        await self._s.execute(
            update(consultations).where(consultations.c.id == case_id).values(draft_reminded_at=now)
        )

    async def discarded_drafts(self, limit: int) -> Sequence[int]:
        rows = await self._s.execute(
            select(consultations.c.id)
            .where(
                consultations.c.status == CaseStatus.WITHDRAWN.value,
                consultations.c.submitted_at.is_(None),
                consultations.c.case_number.is_(None),
            )
            .order_by(consultations.c.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def delete_cases(self, case_ids: Sequence[int]) -> None:
        await delete_cases(self._s, case_ids)

    async def prune_outbox(self, before: datetime) -> int:
        result = await self._s.execute(
            delete(outbox).where(
                or_(
                    and_(outbox.c.status == "sent", outbox.c.sent_at < before),
                    # A dead letter's due time is its last attempt.
                    and_(outbox.c.status == "dead", outbox.c.due_at < before),
                    and_(outbox.c.status == "cancelled", outbox.c.created_at < before),
                )
            )
        )
        return _rowcount(result)

    async def prune_documents(self, before: datetime) -> int:
        result = await self._s.execute(
            delete(bot_state).where(
                bot_state.c.updated_at < before, ~bot_state.c.key.startswith("secret:")
            )
        )
        return _rowcount(result)

    async def prune_audit(self, before: datetime) -> int:
        result = await self._s.execute(delete(audit_events).where(audit_events.c.at < before))
        return _rowcount(result)

    async def action_counts(self, since: datetime, actions: Sequence[str]) -> Mapping[str, int]:
        rows = await self._s.execute(
            select(audit_events.c.action, func.count())
            .where(audit_events.c.at >= since, audit_events.c.action.in_(list(actions)))
            .group_by(audit_events.c.action)
        )
        counts = dict.fromkeys(actions, 0)
        counts.update({action: int(count) for action, count in rows})
        return counts

    async def run_totals(self, since: datetime, action: str) -> Mapping[str, int]:
        rows = await self._s.execute(
            select(audit_events.c.details).where(
                audit_events.c.at >= since, audit_events.c.action == action
            )
        )
        totals: dict[str, int] = {}
        for (details,) in rows:
            for key, value in (details or {}).items():
                if isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value
        return totals

    async def known_users(self, aad_object_ids: Sequence[str]) -> Sequence[int]:
        wanted = [a.lower() for a in aad_object_ids]
        if not wanted:
            return []
        rows = await self._s.execute(
            select(users.c.id).where(users.c.aad_object_id.in_(wanted)).order_by(users.c.id)
        )
        return list(rows.scalars())

    async def forget_freed_pages(self) -> None:
        if self._dialect() != "sqlite":
            # PostgreSQL: old row versions stay in the table files until VACUUM reuses
            # their space; see docs/PRIVACY.md (encrypted storage, backups).
            return
        engine = self._s.bind
        assert engine is not None
        async with engine.connect() as connection:  # type: ignore[union-attr]
            await connection.run_sync(_truncate_wal)


def _truncate_wal(connection: Any) -> None:
    """Copy the write-ahead log into the database file and empty it: the log still holds
    the pages as they were before the texts were wiped. Runs outside a transaction (a
    checkpoint cannot run inside one), so straight on the driver's connection."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.fetchall()
    finally:
        cursor.close()
