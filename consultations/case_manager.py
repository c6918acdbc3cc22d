"""The case manager's work (SPEC §2.5): their cases, the review, closing with an outcome,
and bringing a case back to the team."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

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
from consultations.errors import DomainError
from consultations.intake import send_to_triage
from consultations.model import Role
from consultations.ports import HeldMeeting, UnitOfWork
from consultations.summary import (
    HandOver,
    Recommendation,
)

# Where the case is once its summary is out: the recommendations are being carried out.
AFTER_SUMMARY = frozenset({CaseStatus.CONSULTED, CaseStatus.FOLLOW_UP})


async def may_follow_up(uow: UnitOfWork, case: Consultation, actor_id: int) -> bool:
    """The case manager and the team's coordinators act on the case's follow-up."""
    assert case.id is not None
    return await uow.followup.case_manager(case.id) == actor_id or await is_coordinator(
        uow, case.team_id, actor_id
    )


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


@dataclass(frozen=True)
class CasesView:
    """`cases`/`asiakkaat`/`klienter`: what the user has to follow up."""

    managed: Sequence[ManagedCase]
    # Recommendations owned in cases managed by someone else: (recommendation, case number).
    owned: Sequence[tuple[Recommendation, str]]
    # Hand-overs waiting for this user's answer: (hand-over, case number, from whom).
    handovers: Sequence[tuple[HandOver, str, str]]
    # For coordinators: meetings held whose summary is not out yet.
    summaries_due: Sequence[HeldMeeting]
    names: Mapping[int, str]


async def _managed_case(uow: UnitOfWork, case: Consultation) -> ManagedCase:
    assert case.id is not None
    latest = await latest_published(uow, case.id)
    return ManagedCase(
        case,
        latest.review_date if latest else None,
        [r for r in await uow.followup.recommendations(case.id) if r.active],
        await uow.followup.pending_handover(case.id),
    )


async def my_cases(uow: UnitOfWork, actor_id: int, now: datetime) -> CasesView:
    async with uow:
        managed = []
        for case_id in await uow.followup.managed_by(actor_id):
            case = await uow.consultations.get(case_id)
            if case is not None and case.status not in FINISHED:
                managed.append(await _managed_case(uow, case))
        managed_ids = {m.case.id for m in managed}
        owned = []
        for recommendation in await uow.followup.owned_by(actor_id):
            if recommendation.consultation_id in managed_ids:
                continue
            case = await uow.consultations.get(recommendation.consultation_id)
            if case is not None and case.status not in FINISHED:
                owned.append((recommendation, case.case_number or ""))
        handovers = []
        for handover in await uow.followup.handovers_to(actor_id):
            case = await uow.consultations.get(handover.consultation_id)
            sender = await uow.users.get(handover.from_user_id)
            if case is not None:
                handovers.append((handover, case.case_number or "", sender.name if sender else ""))
        coordinated = [
            team.id
            for team in await uow.teams.teams_of(actor_id)
            if Role.COORDINATOR in await uow.teams.roles_of(team.id, actor_id)
        ]
        due = (
            [m for m in await uow.followup.held_meetings(coordinated) if m.start <= now]
            if coordinated
            else []
        )
        owners = [
            r.owner.user_id
            for m in managed
            for r in m.recommendations
            if r.owner.user_id is not None
        ]
        people = await uow.users.get_many(sorted(set(owners)))
        await uow.audit.record(
            at=now,
            actor_user_id=actor_id,
            action="cases.viewed",
            subject_type="user",
            subject_id=str(actor_id),
        )
        await uow.commit()
        return CasesView(managed, owned, handovers, due, {k: v.name for k, v in people.items()})


@dataclass(frozen=True)
class ReviewView:
    managed: ManagedCase
    case_manager_id: int | None
    candidates: Sequence[tuple[int, str]]
    can_act: bool


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
        view = ReviewView(
            await _managed_case(uow, case),
            manager,
            candidates,
            can_act=case.status in AFTER_SUMMARY,
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
