"""Consultations: requests, their history, the queue and each requester's own lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, select, update
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
from consultations.ports import TriageRow
from storage.paging import TOTAL, page_by_key
from storage.tables import (
    case_counters,
    case_notes,
    case_transitions,
    consultations,
    users,
)


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
