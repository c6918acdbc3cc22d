"""The case manager's work (SPEC §2.5): their cases, the review, closing with an outcome,
and bringing a case back to the team."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from consultations.calendar import BusinessCalendar
from consultations.casework import (
    audit_case,
    channel_notice,
    follow_up_coordinators,
    handover_subject,
    is_coordinator,
    latest_published,
    message_case,
    morning,
    review_subject,
    sent_case,
    stop_recommendation_reminders,
)
from consultations.consultation import (
    FINISHED,
    CaseStatus,
    Consultation,
    Outcome,
    case_round,
)
from consultations.errors import DomainError, InvalidInput
from consultations.intake import send_to_triage
from consultations.lists import Page, page_window
from consultations.model import User
from consultations.ports import HeldMeeting, UnitOfWork
from consultations.summary import (
    HandOver,
    Recommendation,
)

# Where the case is once its summary is out: the recommendations are being carried out.
AFTER_SUMMARY = frozenset({CaseStatus.CONSULTED, CaseStatus.FOLLOW_UP})


async def may_follow_up(uow: UnitOfWork, case: Consultation, actor_id: int) -> bool:
    """The case manager and the team's coordinators act on the case's follow-up; once
    the case has ended (and with it the assignment), its last case manager still sees
    how it ended."""
    assert case.id is not None
    manager = await uow.followup.case_manager(case.id)
    if manager is None and case.status in FINISHED:
        past = await uow.followup.assignments(case.id)
        manager = past[-1].user_id if past else None
    return manager == actor_id or await is_coordinator(uow, case.team_id, actor_id)


async def schedule_review(
    uow: UnitOfWork, case: Consultation, review: date, now: datetime, calendar: BusinessCalendar
) -> None:
    assert case.id is not None
    await uow.outbox.cancel_subject(review_subject(case.id))
    manager = await uow.followup.case_manager(case.id)
    if manager is None:
        return
    await message_case(
        uow,
        case,
        key=f"case:{case.id}:review:{manager}:{now.isoformat()}",
        kind="review.due",
        user_id=manager,
        due_at=max(morning(review, calendar), now),
        now=now,
        subject=review_subject(case.id),
    )


# --- the case manager's view, the review, closing and bringing back ------------------------


@dataclass(frozen=True)
class ManagedCase:
    case: Consultation
    review_date: date | None
    recommendations: Sequence[Recommendation]
    handover: HandOver | None


class CasesSection:
    """The parts of `asiakkaat`, each a list of its own that pages."""

    HANDOVERS = "handovers"
    SUMMARIES = "summaries"
    MANAGED = "managed"
    OWNED = "owned"
    ALL = (HANDOVERS, SUMMARIES, MANAGED, OWNED)


# How many of each part the first card shows; "Show more" pages one part at a time.
FIRST_ROWS = {
    CasesSection.HANDOVERS: 5,
    CasesSection.SUMMARIES: 5,
    CasesSection.MANAGED: 10,
    CasesSection.OWNED: 10,
}


@dataclass(frozen=True)
class CasesView:
    """`cases`/`asiakkaat`/`klienter`: what the user has to follow up. Each part is a page
    with its true total; a part not asked for is an empty page with its total."""

    managed: Page[ManagedCase]
    # Recommendations owned in cases managed by someone else: (recommendation, case number).
    owned: Page[tuple[Recommendation, str]]
    # Hand-overs waiting for this user's answer: (hand-over, case number, from whom).
    handovers: Page[tuple[HandOver, str, str]]
    # For coordinators: meetings held whose summary is not out yet.
    summaries_due: Page[HeldMeeting]
    names: Mapping[int, str]
    # The one part paged through ("" on the first card, which shows a little of each).
    section: str = ""

    @property
    def empty(self) -> bool:
        parts = (self.managed, self.owned, self.handovers, self.summaries_due)
        return not any(part.total for part in parts)


async def _managed_page(
    uow: UnitOfWork, actor_id: int, today: date, limit: int, offset: int
) -> Page[ManagedCase]:
    """The page's cases with what the card shows of each, in a fixed number of reads."""
    rows = await uow.followup.managed_cases(actor_id, today, limit=limit, offset=offset)
    ids = [row.case.id for row in rows.items if row.case.id is not None]
    recommendations: dict[int, list[Recommendation]] = {case_id: [] for case_id in ids}
    for recommendation in await uow.followup.active_recommendations(ids):
        recommendations[recommendation.consultation_id].append(recommendation)
    pending = await uow.followup.pending_handovers(ids)
    managed = [
        ManagedCase(
            row.case,
            row.review_date,
            recommendations.get(row.case.id or 0, []),
            pending.get(row.case.id or 0),
        )
        for row in rows.items
    ]
    return Page(managed, rows.offset, rows.total)


async def my_cases(
    uow: UnitOfWork,
    actor_id: int,
    now: datetime,
    today: date,
    *,
    section: str = "",
    limit: int = 0,
    offset: int = 0,
) -> CasesView:
    """What the user follows up: the first rows of every part, or (`section`) one page of
    that part alone. Every total is counted over the whole data."""
    if section and section not in CasesSection.ALL:
        raise InvalidInput()
    offset, limit = page_window(offset, limit)

    def wanted(part: str) -> dict[str, int] | None:
        if not section:
            return {"offset": 0, "limit": FIRST_ROWS[part]}
        return {"offset": offset, "limit": limit} if part == section else None

    nothing: Page[Any] = Page([], 0, 0)
    async with uow:
        handovers = nothing
        if (window := wanted(CasesSection.HANDOVERS)) is not None:
            handovers = await uow.followup.handovers_to(actor_id, **window)
        due = nothing
        if (window := wanted(CasesSection.SUMMARIES)) is not None:
            coordinated = [team.id for team in await uow.teams.coordinated_by(actor_id)]
            due = await uow.followup.held_meetings(coordinated, now, **window)
        managed: Page[ManagedCase] = nothing
        people: Mapping[int, User] = {}
        if (window := wanted(CasesSection.MANAGED)) is not None:
            managed = await _managed_page(uow, actor_id, today, window["limit"], window["offset"])
            owners = {
                r.owner.user_id
                for m in managed.items
                for r in m.recommendations
                if r.owner.user_id is not None
            }
            people = await uow.users.get_many(sorted(owners)) if owners else {}
        owned = nothing
        if (window := wanted(CasesSection.OWNED)) is not None:
            owned = await uow.followup.owned_elsewhere(actor_id, **window)
        await uow.audit.record(
            at=now,
            actor_user_id=actor_id,
            action="cases.viewed",
            subject_type="user",
            subject_id=str(actor_id),
        )
        await uow.commit()
        return CasesView(
            managed, owned, handovers, due, {k: v.name for k, v in people.items()}, section
        )


async def _managed_case(uow: UnitOfWork, case: Consultation) -> ManagedCase:
    assert case.id is not None
    latest = await latest_published(uow, case.id)
    return ManagedCase(
        case,
        latest.review_date if latest else None,
        [r for r in await uow.followup.recommendations(case.id) if r.active],
        await uow.followup.pending_handover(case.id),
    )


@dataclass(frozen=True)
class ReviewView:
    managed: ManagedCase
    case_manager_id: int | None
    candidates: Sequence[tuple[int, str]]
    can_act: bool
    # Who the successor picker suggests on a team of hundreds: those at the meeting (as
    # its latest summary lists them) and the requester.
    suggested: frozenset[int] = frozenset()


async def review_view(uow: UnitOfWork, actor_id: int, case_id: int, now: datetime) -> ReviewView:
    """The case manager's card for the case: close with an outcome, bring it back to the
    team, or hand the role over."""
    async with uow:
        case = await sent_case(uow, case_id)
        if not await may_follow_up(uow, case, actor_id):
            raise DomainError("error.not_case_manager")
        assert case.team_id is not None
        manager = await uow.followup.case_manager(case_id)
        members = await uow.teams.members(case.team_id)
        requester = await uow.users.get(case.requester_id)
        candidates = [(m.id, m.name) for m in members if m.id != manager]
        if (
            requester is not None
            and requester.id != manager
            and requester.id not in {c for c, _ in candidates}
        ):
            candidates.append((requester.id, requester.name))
        latest = await latest_published(uow, case_id)
        view = ReviewView(
            await _managed_case(uow, case),
            manager,
            candidates,
            can_act=case.status in AFTER_SUMMARY,
            suggested=frozenset([*(latest.attendees if latest else ()), case.requester_id]),
        )
        await audit_case(uow, actor_id, "case.review_viewed", case, now)
        await uow.commit()
        return view


async def end_follow_up(uow: UnitOfWork, case: Consultation, now: datetime) -> None:
    """Stop the case's pending reminders and any hand-over still waiting."""
    assert case.id is not None
    await uow.outbox.cancel_subject(review_subject(case.id))
    for recommendation in await uow.followup.recommendations(case.id):
        assert recommendation.id is not None
        await stop_recommendation_reminders(uow, recommendation.id)
    pending = await uow.followup.pending_handover(case.id)
    if pending is not None:
        assert pending.id is not None
        pending.cancel(now)
        await uow.followup.save_handover(pending)
        await uow.outbox.cancel_subject(handover_subject(pending.id))


async def close_case(
    uow: UnitOfWork, actor_id: int, case_id: int, outcome: Outcome, now: datetime
) -> Consultation:
    """The case manager closes the case with its outcome; the requester and the
    coordinator are told, the channel sees the new status."""
    async with uow:
        case = await sent_case(uow, case_id)
        if not await may_follow_up(uow, case, actor_id):
            raise DomainError("error.not_case_manager")
        if case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")
        coordinators = await follow_up_coordinators(uow, case)
        manager = await uow.followup.case_manager(case_id)
        case.transition(CaseStatus.CLOSED, actor_id, now, "closed")
        case.outcome = outcome
        await uow.consultations.save(case, now)
        await end_follow_up(uow, case, now)
        # The case manager's work ends with the case: `asiakkaat` lists open ones only.
        await uow.followup.end_case_manager(case_id, now)
        told = [case.requester_id, *coordinators, *([manager] if manager else [])]
        for user_id in dict.fromkeys(told):
            if user_id == actor_id:
                continue
            await message_case(
                uow,
                case,
                key=f"case:{case_id}:closed:{user_id}",
                kind="case.closed",
                user_id=user_id,
                due_at=now,
                now=now,
            )
        await channel_notice(uow, case, f"case:{case_id}:closed:notice", now)
        await audit_case(uow, actor_id, "case.closed", case, now, outcome=outcome.value)
        await uow.commit()
        return case


async def bring_back(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    reason: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> Consultation:
    """No lasting solution yet: the case goes back to the team for a new round. The
    coordinators triage it again; open recommendations keep being followed up."""
    if not reason:
        raise DomainError("error.reason_missing")
    async with uow:
        case = await sent_case(uow, case_id)
        if not await may_follow_up(uow, case, actor_id):
            raise DomainError("error.not_case_manager")
        if case.status is not CaseStatus.FOLLOW_UP:
            raise DomainError("error.case_not_in_follow_up")
        case.transition(CaseStatus.SUBMITTED, actor_id, now, "brought_back")
        case.submitted_at = now
        await uow.consultations.save(case, now)
        await uow.consultations.add_note(case_id, actor_id, "brought_back", reason, now)
        await uow.outbox.cancel_subject(review_subject(case_id))
        await send_to_triage(uow, case, now, calendar)
        if case.requester_id != actor_id:
            await message_case(
                uow,
                case,
                key=f"case:{case_id}:r{case_round(case)}:brought-back",
                kind="case.brought_back",
                user_id=case.requester_id,
                due_at=now,
                now=now,
            )
        await channel_notice(uow, case, f"case:{case_id}:r{case_round(case)}:notice", now)
        await audit_case(uow, actor_id, "case.brought_back", case, now)
        await uow.commit()
        return case
