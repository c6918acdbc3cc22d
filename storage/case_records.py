"""Everything stored about one case, found, read and deleted over one AsyncSession
(the data subject's rights, SPEC §5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, delete, false, func, or_, select, type_coerce
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.consultation import FINISHED, CaseStatus
from consultations.records import CaseHeader, TrailEntry
from storage.tables import (
    audit_events,
    case_managers,
    case_notes,
    case_transitions,
    consultations,
    feedback,
    handovers,
    meeting_summaries,
    outbox,
    poll_invitees,
    poll_slots,
    poll_votes,
    polls,
    recommendation_events,
    recommendations,
    teams,
    users,
)

# The tables holding a case's own rows, keyed by the column that points at the case.
BY_CASE: tuple[Table, ...] = (
    case_transitions,
    case_notes,
    polls,
    meeting_summaries,
    recommendations,
    case_managers,
    handovers,
    feedback,
)
# Columns naming a person, whose name and profession the export adds beside the ids.
PERSON_COLUMNS = frozenset(
    {
        "requester_id",
        "actor_user_id",
        "author_user_id",
        "created_by",
        "user_id",
        "case_manager_id",
        "published_by",
        "owner_user_id",
        "assigned_by",
        "from_user_id",
        "to_user_id",
    }
)


def _plain(value: Any) -> Any:
    """A stored value as JSON: moments and dates in ISO 8601."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(row: RowMapping) -> dict[str, Any]:
    return {key: _plain(value) for key, value in row.items()}


def _ids(rows: Iterable[Mapping[str, Any]], key: str = "id") -> list[int]:
    return [int(r[key]) for r in rows]


def refers_to(column: Any, key: str, ids: Sequence[int]) -> ColumnElement[bool]:
    """A JSON text column whose object has `key` equal to one of `ids` (JsonText writes
    compact, key-sorted JSON, so `"key":5,` or `"key":5}` is exact)."""
    as_text = type_coerce(column, Text)
    clauses = [as_text.like(f'%"{key}":{i}{end}%') for i in ids for end in (",", "}")]
    return or_(*clauses) if clauses else false()


class SqlAlchemyCaseRecords:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _header(self, where: ColumnElement[bool]) -> CaseHeader | None:
        ended = (
            select(func.max(case_transitions.c.at))
            .where(case_transitions.c.consultation_id == consultations.c.id)
            .scalar_subquery()
        )
        row = (
            (
                await self._s.execute(
                    select(consultations, teams.c.name.label("team_name"), ended.label("ended"))
                    .outerjoin(teams, teams.c.id == consultations.c.team_id)
                    .where(where)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        status = CaseStatus(row["status"])
        return CaseHeader(
            id=row["id"],
            case_number=row["case_number"] or "",
            team_id=row["team_id"],
            team_name=row["team_name"] or "",
            status=status,
            requester_id=row["requester_id"],
            created_at=row["created_at"],
            submitted_at=row["submitted_at"],
            # The last move into a side exit or closing is when the case ended.
            ended_at=row["ended"] if status in FINISHED else None,
            anonymised_at=row["anonymised_at"],
        )

    async def find(self, case_number: str) -> CaseHeader | None:
        return await self._header(consultations.c.case_number == case_number)

    async def header(self, case_id: int) -> CaseHeader | None:
        return await self._header(consultations.c.id == case_id)

    async def trail(
        self, case_id: int, limit: int, offset: int
    ) -> tuple[Sequence[TrailEntry], int]:
        audit = (
            await self._s.execute(
                select(audit_events)
                .where(
                    audit_events.c.subject_type == "consultation",
                    audit_events.c.subject_id == str(case_id),
                )
                .order_by(audit_events.c.id)
            )
        ).mappings()
        entries = [
            TrailEntry(r["at"], r["actor_user_id"], "", r["action"], details=r["details"] or {})
            for r in audit
        ]
        steps = (
            await self._s.execute(
                select(case_transitions)
                .where(case_transitions.c.consultation_id == case_id)
                .order_by(case_transitions.c.id)
            )
        ).mappings()
        entries += [
            TrailEntry(
                r["at"],
                r["actor_user_id"],
                "",
                r["reason"] or "status",
                from_status=r["from_status"],
                to_status=r["to_status"],
            )
            for r in steps
        ]
        # Newest first; at one moment, the later of two rows of a table first, and a
        # status change above the audit record its use case wrote with it.
        order = {id(e): n for n, e in enumerate(entries)}
        entries.sort(key=lambda e: (e.at, e.is_transition, order[id(e)]), reverse=True)
        page = entries[offset : offset + limit]
        names = await self._names({e.actor_user_id for e in page if e.actor_user_id})
        named = [
            TrailEntry(
                e.at,
                e.actor_user_id,
                names.get(e.actor_user_id or 0, ("", None))[0],
                e.action,
                e.from_status,
                e.to_status,
                e.details,
            )
            for e in page
        ]
        return named, len(entries)

    async def _names(self, user_ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        rows = await self._s.execute(
            select(users.c.id, users.c.name, users.c.profession).where(users.c.id.in_(ids))
        )
        return {user_id: (name, profession) for user_id, name, profession in rows}

    async def _rows(self, table: Table, where: ColumnElement[bool]) -> list[dict[str, Any]]:
        primary = list(table.primary_key.columns)
        result = await self._s.execute(select(table).where(where).order_by(*primary))
        return [_row(r) for r in result.mappings()]

    async def _related(self, case_id: int) -> dict[str, list[dict[str, Any]]]:
        """The case's rows in every table that holds any, keyed by table name."""
        found: dict[str, list[dict[str, Any]]] = {
            "consultations": await self._rows(consultations, consultations.c.id == case_id)
        }
        for table in BY_CASE:
            found[table.name] = await self._rows(table, table.c.consultation_id == case_id)
        poll_ids = _ids(found["polls"])
        for table in (poll_slots, poll_invitees, poll_votes):
            found[table.name] = await self._rows(table, table.c.poll_id.in_(poll_ids))
        found["recommendation_events"] = await self._rows(
            recommendation_events,
            recommendation_events.c.recommendation_id.in_(_ids(found["recommendations"])),
        )
        found["outbox"] = await self._rows(outbox, self._outbox_about(case_id, found))
        return found

    @staticmethod
    def _outbox_about(
        case_id: int, found: Mapping[str, list[dict[str, Any]]]
    ) -> ColumnElement[bool]:
        """Messages about the case: their payloads name it or one of its parts by id."""
        return or_(
            refers_to(outbox.c.payload, "case_id", [case_id]),
            refers_to(outbox.c.payload, "poll_id", _ids(found["polls"])),
            refers_to(outbox.c.payload, "summary_id", _ids(found["meeting_summaries"])),
            refers_to(outbox.c.payload, "recommendation_id", _ids(found["recommendations"])),
            refers_to(outbox.c.payload, "handover_id", _ids(found["handovers"])),
            outbox.c.subject == f"draft:{case_id}",
        )

    async def dump(self, case_id: int) -> dict[str, list[dict[str, Any]]]:
        found = await self._related(case_id)
        if not found["consultations"]:
            return {}
        found["audit_events"] = await self._rows(
            audit_events,
            (audit_events.c.subject_type == "consultation")
            & (audit_events.c.subject_id == str(case_id)),
        )
        people = {
            int(value)
            for rows in found.values()
            for row in rows
            for key, value in row.items()
            if key in PERSON_COLUMNS and isinstance(value, int)
        }
        for summary in found["meeting_summaries"]:
            people.update(int(a) for a in summary.get("attendees") or ())
        names = await self._names(people)
        found["people"] = [
            {"id": user_id, "name": name, "profession": profession}
            for user_id, (name, profession) in sorted(names.items())
        ]
        team_id = found["consultations"][0]["team_id"]
        found["teams"] = (
            await self._rows(teams, teams.c.id == team_id) if team_id is not None else []
        )
        found["teams"] = [{"id": t["id"], "name": t["name"]} for t in found["teams"]]
        return found

    async def erase(self, case_id: int) -> Mapping[str, int]:
        return await delete_cases(self._s, [case_id])


async def delete_cases(session: AsyncSession, case_ids: Sequence[int]) -> dict[str, int]:
    """Delete these cases and every row that refers to them, children first (SQLite and
    PostgreSQL alike, whatever their foreign keys cascade); rows deleted per table."""
    records = SqlAlchemyCaseRecords(session)
    deleted: dict[str, int] = {}

    async def drop(table: Table, where: ColumnElement[bool]) -> None:
        result = await session.execute(delete(table).where(where))
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            deleted[table.name] = deleted.get(table.name, 0) + count

    for case_id in case_ids:
        found = await records._related(case_id)
        if not found["consultations"]:
            continue
        poll_ids = _ids(found["polls"])
        await drop(outbox, records._outbox_about(case_id, found))
        await drop(
            recommendation_events,
            recommendation_events.c.recommendation_id.in_(_ids(found["recommendations"])),
        )
        for table in (recommendations, meeting_summaries, feedback, handovers, case_managers):
            await drop(table, table.c.consultation_id == case_id)
        for table in (poll_votes, poll_invitees, poll_slots):
            await drop(table, table.c.poll_id.in_(poll_ids))
        for table in (polls, case_notes, case_transitions):
            await drop(table, table.c.consultation_id == case_id)
        await drop(consultations, consultations.c.id == case_id)
    return deleted
