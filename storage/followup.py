"""Summaries, recommendations, case managers, hand-overs and feedback over one AsyncSession;
the unit of work owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from consultations.consultation import FINISHED, CaseStatus
from consultations.errors import Conflict
from consultations.lists import Page
from consultations.poll import DURATIONS, PollState
from consultations.ports import HeldMeeting, ManagedRow
from consultations.summary import (
    ACTIVE,
    Assignment,
    Feedback,
    HandOver,
    HandOverState,
    MeetingSummary,
    NotImplementedReason,
    OutsideParty,
    Owner,
    PlannedRecommendation,
    Recommendation,
    RecommendationStatus,
    StatusChange,
    SummaryState,
)
from storage.consultations import consultation_from_row
from storage.paging import TOTAL, page_by_key, page_rows
from storage.tables import (
    case_managers,
    consultations,
    feedback,
    handovers,
    meeting_summaries,
    poll_slots,
    polls,
    recommendation_events,
    recommendations,
    users,
)

_FINISHED = [s.value for s in FINISHED]
_ACTIVE = [s.value for s in ACTIVE]


def _plan_to_json(items: Sequence[PlannedRecommendation]) -> list[dict[str, Any]]:
    return [
        {
            "text": p.text,
            "owner": p.owner.token,
            "due": p.due.isoformat(),
            "recommendation_id": p.recommendation_id,
        }
        for p in items
    ]


def _plan_from_json(items: Any) -> tuple[PlannedRecommendation, ...]:
    return tuple(
        PlannedRecommendation(
            text=item["text"],
            owner=Owner.parse(item["owner"]),
            due=date.fromisoformat(item["due"]),
            recommendation_id=item.get("recommendation_id"),
        )
        for item in items or ()
    )


def _summary(row: RowMapping) -> MeetingSummary:
    return MeetingSummary(
        id=row["id"],
        consultation_id=row["consultation_id"],
        poll_id=row["poll_id"],
        round=row["round"],
        version=row["version"],
        created_by=row["created_by"],
        state=SummaryState(row["state"]),
        attendees=tuple(int(a) for a in row["attendees"] or ()),
        client_attended=row["client_attended"],
        findings=row["findings"],
        recommendations=_plan_from_json(row["recommendations"]),
        case_manager_id=row["case_manager_id"],
        review_date=row["review_date"],
        published_by=row["published_by"],
        published_at=row["published_at"],
    )


def _owner(row: RowMapping) -> Owner:
    if row["owner_user_id"] is not None:
        return Owner(user_id=row["owner_user_id"])
    return Owner(party=OutsideParty(row["owner_party"]))


def _handover(row: RowMapping) -> HandOver:
    return HandOver(
        id=row["id"],
        consultation_id=row["consultation_id"],
        from_user_id=row["from_user_id"],
        to_user_id=row["to_user_id"],
        note=row["note"],
        proposed_at=row["proposed_at"],
        state=HandOverState(row["state"]),
        answered_at=row["answered_at"],
        reason=row["reason"],
    )


class SqlAlchemyFollowUpRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session
        # How many status changes each loaded recommendation had: `save` writes the rest.
        self._persisted: dict[int, int] = {}

    def _locking(self, query: Any, lock: bool) -> Any:
        # SQLite's transaction holds the write lock from BEGIN IMMEDIATE (storage.db).
        if lock and self._s.get_bind().dialect.name == "postgresql":
            return query.with_for_update()
        return query

    # --- summaries -----------------------------------------------------------------------

    def _summary_values(self, summary: MeetingSummary, now: datetime) -> dict[str, Any]:
        return {
            "state": summary.state.value,
            "attendees": list(summary.attendees),
            "client_attended": summary.client_attended,
            "findings": summary.findings,
            "recommendations": _plan_to_json(summary.recommendations),
            "case_manager_id": summary.case_manager_id,
            "review_date": summary.review_date,
            "published_by": summary.published_by,
            "published_at": summary.published_at,
            "updated_at": now,
        }

    async def add_summary(self, summary: MeetingSummary, now: datetime) -> MeetingSummary:
        inserted = await self._s.execute(
            insert(meeting_summaries)
            .returning(meeting_summaries.c.id)
            .values(
                consultation_id=summary.consultation_id,
                poll_id=summary.poll_id,
                round=summary.round,
                version=summary.version,
                created_by=summary.created_by,
                created_at=now,
                **self._summary_values(summary, now),
            )
        )
        summary.id = int(inserted.scalar_one())
        return summary

    async def get_summary(self, summary_id: int, *, lock: bool = False) -> MeetingSummary | None:
        query = self._locking(
            select(meeting_summaries).where(meeting_summaries.c.id == summary_id), lock
        )
        row = (await self._s.execute(query)).mappings().first()
        return None if row is None else _summary(row)

    async def save_summary(self, summary: MeetingSummary, now: datetime) -> None:
        assert summary.id is not None
        # Only a draft row changes: a published version stays as it was published.
        result = await self._s.execute(
            update(meeting_summaries)
            .where(
                meeting_summaries.c.id == summary.id,
                meeting_summaries.c.state == SummaryState.DRAFT.value,
            )
            .values(**self._summary_values(summary, now))
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise Conflict()

    async def draft_summary(self, consultation_id: int) -> MeetingSummary | None:
        row = (
            (
                await self._s.execute(
                    select(meeting_summaries)
                    .where(
                        meeting_summaries.c.consultation_id == consultation_id,
                        meeting_summaries.c.state == SummaryState.DRAFT.value,
                    )
                    .order_by(meeting_summaries.c.id.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _summary(row)

    async def published_summaries(self, consultation_id: int) -> Sequence[MeetingSummary]:
        rows = await self._s.execute(
            select(meeting_summaries)
            .where(
                meeting_summaries.c.consultation_id == consultation_id,
                meeting_summaries.c.state == SummaryState.PUBLISHED.value,
            )
            .order_by(meeting_summaries.c.round, meeting_summaries.c.version)
        )
        return [_summary(row) for row in rows.mappings()]

    # --- recommendations -----------------------------------------------------------------

    async def _histories(self, recommendation_ids: Sequence[int]) -> dict[int, list[StatusChange]]:
        """The status histories of these recommendations, in one query."""
        histories: dict[int, list[StatusChange]] = {i: [] for i in recommendation_ids}
        if not recommendation_ids:
            return histories
        rows = await self._s.execute(
            select(recommendation_events)
            .where(recommendation_events.c.recommendation_id.in_(list(recommendation_ids)))
            .order_by(recommendation_events.c.id)
        )
        for e in rows.mappings():
            histories[e["recommendation_id"]].append(
                StatusChange(
                    RecommendationStatus(e["from_status"]) if e["from_status"] else None,
                    RecommendationStatus(e["to_status"]),
                    e["actor_user_id"],
                    e["at"],
                    e["reason"],
                    e["due"],
                )
            )
        return histories

    async def _history(self, recommendation_id: int) -> list[StatusChange]:
        return (await self._histories([recommendation_id]))[recommendation_id]

    def _recommendation(
        self, row: RowMapping, history: list[StatusChange] | None
    ) -> Recommendation:
        recommendation = Recommendation(
            id=row["id"],
            consultation_id=row["consultation_id"],
            summary_id=row["summary_id"],
            text=row["text"],
            owner=_owner(row),
            due=row["due"],
            status=RecommendationStatus(row["status"]),
            reason=row["reason"],
            reason_category=NotImplementedReason(row["reason_category"])
            if row["reason_category"]
            else None,
            snoozed_until=row["snoozed_until"],
            history=history or [],
            version=row["version"],
        )
        if history is not None:
            self._persisted[row["id"]] = len(history)
        return recommendation

    async def _write_history(self, recommendation: Recommendation) -> None:
        assert recommendation.id is not None
        new = recommendation.history[self._persisted.get(recommendation.id, 0) :]
        if new:
            await self._s.execute(
                insert(recommendation_events),
                [
                    {
                        "recommendation_id": recommendation.id,
                        "from_status": c.from_status.value if c.from_status else None,
                        "to_status": c.to_status.value,
                        "actor_user_id": c.actor_user_id,
                        "at": c.at,
                        "reason": c.reason,
                        "due": c.due,
                    }
                    for c in new
                ],
            )
        self._persisted[recommendation.id] = len(recommendation.history)

    def _recommendation_values(self, r: Recommendation, now: datetime) -> dict[str, Any]:
        return {
            "text": r.text,
            "owner_user_id": r.owner.user_id,
            "owner_party": r.owner.party.value if r.owner.party else None,
            "due": r.due,
            "status": r.status.value,
            "reason": r.reason,
            "reason_category": r.reason_category.value if r.reason_category else None,
            "snoozed_until": r.snoozed_until,
            "updated_at": now,
        }

    async def add_recommendation(
        self, recommendation: Recommendation, now: datetime
    ) -> Recommendation:
        inserted = await self._s.execute(
            insert(recommendations)
            .returning(recommendations.c.id)
            .values(
                consultation_id=recommendation.consultation_id,
                summary_id=recommendation.summary_id,
                created_at=now,
                version=0,
                **self._recommendation_values(recommendation, now),
            )
        )
        recommendation.id = int(inserted.scalar_one())
        await self._write_history(recommendation)
        return recommendation

    async def get_recommendation(
        self, recommendation_id: int, *, lock: bool = False
    ) -> Recommendation | None:
        query = self._locking(
            select(recommendations).where(recommendations.c.id == recommendation_id), lock
        )
        row = (await self._s.execute(query)).mappings().first()
        if row is None:
            return None
        return self._recommendation(row, await self._history(recommendation_id))

    async def save_recommendation(self, recommendation: Recommendation, now: datetime) -> None:
        assert recommendation.id is not None
        result = await self._s.execute(
            update(recommendations)
            .where(
                recommendations.c.id == recommendation.id,
                recommendations.c.version == recommendation.version,
            )
            .values(
                version=recommendation.version + 1,
                **self._recommendation_values(recommendation, now),
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise Conflict()
        recommendation.version += 1
        if recommendation.id not in self._persisted:
            # Loaded without its history (a list): read what is stored before appending.
            stored = await self._history(recommendation.id)
            self._persisted[recommendation.id] = len(stored)
            recommendation.history = [*stored, *recommendation.history]
        await self._write_history(recommendation)

    async def recommendations(self, consultation_id: int) -> Sequence[Recommendation]:
        rows = await self._s.execute(
            select(recommendations)
            .where(recommendations.c.consultation_id == consultation_id)
            .order_by(recommendations.c.id)
        )
        found = rows.mappings().all()
        histories = await self._histories([row["id"] for row in found])
        return [self._recommendation(row, histories[row["id"]]) for row in found]

    async def active_recommendations(
        self, consultation_ids: Sequence[int]
    ) -> Sequence[Recommendation]:
        if not consultation_ids:
            return []
        rows = await self._s.execute(
            select(recommendations)
            .where(
                recommendations.c.consultation_id.in_(list(consultation_ids)),
                recommendations.c.status.in_(_ACTIVE),
            )
            .order_by(recommendations.c.due, recommendations.c.id)
        )
        return [self._recommendation(row, None) for row in rows.mappings().all()]

    async def owned_elsewhere(
        self, user_id: int, *, limit: int, offset: int = 0
    ) -> Page[tuple[Recommendation, str]]:
        # The owner's own cases, read once (not per recommendation: a coordinator's
        # assignments number in the hundreds).
        managed_by_owner = select(case_managers.c.consultation_id).where(
            case_managers.c.user_id == user_id, case_managers.c.until.is_(None)
        )
        query = (
            select(recommendations, consultations.c.case_number)
            .join(consultations, consultations.c.id == recommendations.c.consultation_id)
            .where(
                recommendations.c.owner_user_id == user_id,
                recommendations.c.status.in_(_ACTIVE),
                consultations.c.status.not_in(_FINISHED),
                recommendations.c.consultation_id.not_in(managed_by_owner),
            )
            .order_by(recommendations.c.due, recommendations.c.id)
        )
        rows, totals = await page_rows(self._s, query, limit, offset)
        items = [(self._recommendation(row, None), row["case_number"] or "") for row in rows]
        return Page(items, offset, totals[TOTAL])

    # --- case managers -------------------------------------------------------------------

    async def case_manager(self, consultation_id: int) -> int | None:
        found = (
            await self._s.execute(
                select(case_managers.c.user_id)
                .where(
                    case_managers.c.consultation_id == consultation_id,
                    case_managers.c.until.is_(None),
                )
                .order_by(case_managers.c.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return None if found is None else int(found)

    async def assign_case_manager(
        self,
        consultation_id: int,
        user_id: int,
        assigned_by: int | None,
        reason: str,
        now: datetime,
    ) -> None:
        await self._s.execute(
            update(case_managers)
            .where(
                case_managers.c.consultation_id == consultation_id,
                case_managers.c.until.is_(None),
            )
            .values(until=now)
        )
        await self._s.execute(
            insert(case_managers).values(
                consultation_id=consultation_id,
                user_id=user_id,
                since=now,
                assigned_by=assigned_by,
                reason=reason[:32],
            )
        )

    async def end_case_manager(self, consultation_id: int, now: datetime) -> None:
        await self._s.execute(
            update(case_managers)
            .where(
                case_managers.c.consultation_id == consultation_id,
                case_managers.c.until.is_(None),
            )
            .values(until=now)
        )

    async def assignments(self, consultation_id: int) -> Sequence[Assignment]:
        rows = await self._s.execute(
            select(case_managers)
            .where(case_managers.c.consultation_id == consultation_id)
            .order_by(case_managers.c.id)
        )
        return [
            Assignment(r["user_id"], r["since"], r["until"], r["assigned_by"], r["reason"])
            for r in rows.mappings()
        ]

    async def managed_cases(
        self, user_id: int, today: date, *, limit: int, offset: int = 0
    ) -> Page[ManagedRow]:
        latest = (
            select(meeting_summaries.c.review_date)
            .where(
                meeting_summaries.c.consultation_id == consultations.c.id,
                meeting_summaries.c.state == SummaryState.PUBLISHED.value,
            )
            .order_by(meeting_summaries.c.round.desc(), meeting_summaries.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        late = exists().where(
            recommendations.c.consultation_id == consultations.c.id,
            recommendations.c.status.in_(_ACTIVE),
            recommendations.c.due < today,
        )
        # Those with an overdue recommendation first, then by review date (none last).
        keys = (
            select(
                consultations.c.id.label("key"),
                case((late, 0), else_=1).label("on_time"),
                latest.label("review_date"),
            )
            .join(case_managers, case_managers.c.consultation_id == consultations.c.id)
            .where(
                case_managers.c.user_id == user_id,
                case_managers.c.until.is_(None),
                consultations.c.status.not_in(_FINISHED),
            )
        )
        keyed = keys.subquery("keyed")
        ranked = select(
            keyed.c.key,
            keyed.c.on_time,
            case((keyed.c.review_date.is_(None), 1), else_=0).label("no_review"),
            keyed.c.review_date,
        )

        def full(page: Any) -> Any:
            return select(consultations, page.c.review_date).select_from(
                page.join(consultations, consultations.c.id == page.c.key)
            )

        rows, totals = await page_by_key(
            self._s,
            ranked,
            [("on_time", False), ("no_review", False), ("review_date", False)],
            full,
            limit,
            offset,
        )
        items = [ManagedRow(consultation_from_row(row, []), row["review_date"]) for row in rows]
        return Page(items, offset, totals[TOTAL])

    # --- hand-overs ----------------------------------------------------------------------

    async def add_handover(self, handover: HandOver) -> HandOver:
        inserted = await self._s.execute(
            insert(handovers)
            .returning(handovers.c.id)
            .values(
                consultation_id=handover.consultation_id,
                from_user_id=handover.from_user_id,
                to_user_id=handover.to_user_id,
                note=handover.note,
                state=handover.state.value,
                proposed_at=handover.proposed_at,
                answered_at=handover.answered_at,
                reason=handover.reason,
            )
        )
        handover.id = int(inserted.scalar_one())
        return handover

    async def get_handover(self, handover_id: int, *, lock: bool = False) -> HandOver | None:
        query = self._locking(select(handovers).where(handovers.c.id == handover_id), lock)
        row = (await self._s.execute(query)).mappings().first()
        return None if row is None else _handover(row)

    async def save_handover(self, handover: HandOver) -> None:
        assert handover.id is not None
        # A hand-over is answered once: the row changes only while it is still proposed.
        result = await self._s.execute(
            update(handovers)
            .where(
                handovers.c.id == handover.id,
                handovers.c.state == HandOverState.PROPOSED.value,
            )
            .values(
                state=handover.state.value,
                answered_at=handover.answered_at,
                reason=handover.reason,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise Conflict()

    async def pending_handover(self, consultation_id: int) -> HandOver | None:
        row = (
            (
                await self._s.execute(
                    select(handovers)
                    .where(
                        handovers.c.consultation_id == consultation_id,
                        handovers.c.state == HandOverState.PROPOSED.value,
                    )
                    .order_by(handovers.c.id.desc())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _handover(row)

    async def pending_handovers(self, consultation_ids: Sequence[int]) -> Mapping[int, HandOver]:
        if not consultation_ids:
            return {}
        rows = await self._s.execute(
            select(handovers)
            .where(
                handovers.c.consultation_id.in_(list(consultation_ids)),
                handovers.c.state == HandOverState.PROPOSED.value,
            )
            .order_by(handovers.c.id)
        )
        # The newest waiting one per case, as pending_handover gives it.
        return {row["consultation_id"]: _handover(row) for row in rows.mappings()}

    async def handovers_to(
        self, user_id: int, *, limit: int, offset: int = 0
    ) -> Page[tuple[HandOver, str, str]]:
        query = (
            select(
                handovers,
                consultations.c.case_number,
                users.c.name.label("from_name"),
            )
            .join(consultations, consultations.c.id == handovers.c.consultation_id)
            .join(users, users.c.id == handovers.c.from_user_id)
            .where(
                handovers.c.to_user_id == user_id,
                handovers.c.state == HandOverState.PROPOSED.value,
            )
            .order_by(handovers.c.id)
        )
        rows, totals = await page_rows(self._s, query, limit, offset)
        items = [(_handover(r), r["case_number"] or "", r["from_name"]) for r in rows]
        return Page(items, offset, totals[TOTAL])

    # --- feedback ------------------------------------------------------------------------

    async def add_feedback(self, given: Feedback, round_: int) -> bool:
        try:
            async with self._s.begin_nested():
                await self._s.execute(
                    insert(feedback).values(
                        consultation_id=given.consultation_id,
                        round=round_,
                        rating=given.rating,
                        comment=given.comment,
                        at=given.at,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def feedback(self, consultation_id: int) -> Sequence[Feedback]:
        rows = await self._s.execute(
            select(feedback)
            .where(feedback.c.consultation_id == consultation_id)
            .order_by(feedback.c.round)
        )
        return [
            Feedback(r["consultation_id"], r["rating"], r["comment"], r["at"])
            for r in rows.mappings()
        ]

    # --- the digest ----------------------------------------------------------------------

    @staticmethod
    def _held(team_ids: Sequence[int], started_by: datetime) -> Any:
        return (
            select(
                consultations.c.id,
                consultations.c.case_number,
                consultations.c.team_id,
                polls.c.id.label("poll_id"),
                polls.c.created_by,
                poll_slots.c.start,
                poll_slots.c.minutes,
            )
            .join(polls, polls.c.consultation_id == consultations.c.id)
            .join(poll_slots, poll_slots.c.id == polls.c.chosen_slot_id)
            .where(
                consultations.c.team_id.in_(list(team_ids)),
                consultations.c.status == CaseStatus.SCHEDULED.value,
                polls.c.state == PollState.FINALIZED.value,
                poll_slots.c.start <= started_by,
            )
        )

    async def held_meetings(
        self, team_ids: Sequence[int], started_by: datetime, *, limit: int, offset: int = 0
    ) -> Page[HeldMeeting]:
        if not team_ids:
            return Page([], offset, 0)
        query = self._held(team_ids, started_by).order_by(poll_slots.c.start, consultations.c.id)
        rows, totals = await page_rows(self._s, query, limit, offset)
        items = [
            HeldMeeting(
                r["id"],
                r["case_number"] or "",
                r["team_id"],
                r["poll_id"],
                r["start"],
                r["minutes"],
                r["created_by"],
            )
            for r in rows
        ]
        return Page(items, offset, totals[TOTAL])

    async def meetings_without_summary(
        self, team_ids: Sequence[int], now: datetime
    ) -> Mapping[int, int]:
        if not team_ids:
            return {}
        # Over means start + minutes <= now. Date arithmetic differs between SQLite and
        # PostgreSQL: count those surely over by the longest meeting there is, and look
        # at the few begun within that time one by one.
        longest = timedelta(minutes=max(DURATIONS))
        held = self._held(team_ids, now - longest).subquery()
        rows = await self._s.execute(select(held.c.team_id, func.count()).group_by(held.c.team_id))
        counted = {int(team_id): int(n) for team_id, n in rows}
        recent = self._held(team_ids, now).where(poll_slots.c.start > now - longest)
        for r in (await self._s.execute(recent)).mappings():
            if r["start"] + timedelta(minutes=r["minutes"]) <= now:
                counted[r["team_id"]] = counted.get(r["team_id"], 0) + 1
        return counted

    async def overdue_counts(self, team_ids: Sequence[int], today: date) -> Mapping[int, int]:
        if not team_ids:
            return {}
        rows = await self._s.execute(
            select(consultations.c.team_id, func.count())
            .select_from(recommendations)
            .join(consultations, consultations.c.id == recommendations.c.consultation_id)
            .where(
                consultations.c.team_id.in_(list(team_ids)),
                consultations.c.status.not_in(
                    [CaseStatus.CLOSED.value, CaseStatus.WITHDRAWN.value]
                ),
                recommendations.c.status.in_(_ACTIVE),
                recommendations.c.due < today,
            )
            .group_by(consultations.c.team_id)
        )
        return {int(team_id): int(n) for team_id, n in rows}

    async def handovers_waiting_counts(self, team_ids: Sequence[int]) -> Mapping[int, int]:
        if not team_ids:
            return {}
        rows = await self._s.execute(
            select(consultations.c.team_id, func.count())
            .select_from(handovers)
            .join(consultations, consultations.c.id == handovers.c.consultation_id)
            .where(
                consultations.c.team_id.in_(list(team_ids)),
                handovers.c.state == HandOverState.PROPOSED.value,
            )
            .group_by(consultations.c.team_id)
        )
        return {int(team_id): int(n) for team_id, n in rows}
