"""Following a recommendation up (SPEC §2.5): its due reminder to the owner (or the case
manager for an outside owner), its escalation to the coordinator, and the owner's answers:
done, in progress with a new date, not implemented with a reason, snoozed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from consultations.calendar import BusinessCalendar
from consultations.casework import (
    audit_case,
    escalation_subject,
    follow_up_coordinators,
    is_coordinator,
    message_case,
    morning,
    recommendation_subject,
    sent_case,
)
from consultations.consultation import (
    FINISHED,
    Consultation,
)
from consultations.errors import DomainError, NotFound
from consultations.ports import UnitOfWork
from consultations.summary import (
    ESCALATION_DAYS,
    NotImplementedReason,
    Recommendation,
    RecommendationStatus,
)


def due_reminder_at(recommendation: Recommendation, calendar: BusinessCalendar) -> datetime:
    return morning(recommendation.due, calendar)


def escalation_at(recommendation: Recommendation, calendar: BusinessCalendar) -> datetime:
    """Overdue for ESCALATION_DAYS working days: the coordinator hears of it."""
    return calendar.add_working_days(due_reminder_at(recommendation, calendar), ESCALATION_DAYS)


def escalation_key(recommendation: Recommendation, coordinator_id: int) -> str:
    """One escalation per recommendation, coordinator and overdue period: a new due date
    opens a new period; a snooze or a new case manager does not."""
    return f"rec:{recommendation.id}:escalation:{recommendation.due.isoformat()}:{coordinator_id}"


async def schedule_recommendation(
    uow: UnitOfWork,
    case: Consultation,
    recommendation: Recommendation,
    now: datetime,
    calendar: BusinessCalendar,
    *,
    remind_at: datetime | None = None,
) -> None:
    """(Re)queue an active recommendation's due reminder, to its owner or, for an outside
    owner, the case manager, and make sure its escalation to the coordinator is queued
    once for its overdue period (one already sent is not sent again)."""
    assert case.id is not None and recommendation.id is not None
    await uow.outbox.cancel_subject(recommendation_subject(recommendation.id))
    if not recommendation.active or case.status in FINISHED:
        await uow.outbox.cancel_subject(escalation_subject(recommendation.id))
        return
    recipient = recommendation.owner.user_id or await uow.followup.case_manager(case.id)
    if recipient is not None:
        await message_case(
            uow,
            case,
            # The reminder replaces the one cancelled above, so its key is new every time.
            key=f"rec:{recommendation.id}:due:{recipient}:{now.isoformat()}",
            kind="recommendation.due",
            user_id=recipient,
            due_at=max(remind_at or due_reminder_at(recommendation, calendar), now),
            now=now,
            subject=recommendation_subject(recommendation.id),
            recommendation_id=recommendation.id,
        )
    coordinators = await follow_up_coordinators(uow, case)
    keys = [escalation_key(recommendation, c) for c in coordinators]
    # An escalation of an earlier period (or to a coordinator no longer concerned) stops.
    await uow.outbox.cancel_subject(escalation_subject(recommendation.id), keep=keys)
    for coordinator, key in zip(coordinators, keys, strict=True):
        # Queued before (pending or sent), the key is taken and this adds nothing.
        await message_case(
            uow,
            case,
            key=key,
            kind="recommendation.escalation",
            user_id=coordinator,
            due_at=max(escalation_at(recommendation, calendar), now),
            now=now,
            subject=escalation_subject(recommendation.id),
            recommendation_id=recommendation.id,
        )


async def follow_new_case_manager(
    uow: UnitOfWork,
    case: Consultation,
    items: Iterable[Recommendation],
    now: datetime,
    calendar: BusinessCalendar,
) -> None:
    """A new case manager takes over the reminders of outside owners' recommendations.
    A snooze was the predecessor's own choice: each reminder starts from its due date
    again (at once when that has passed). The coordinator's escalations stay as they are."""
    for recommendation in items:
        if not recommendation.active or recommendation.owner.user_id is not None:
            continue
        if recommendation.snoozed_until is not None:
            recommendation.snoozed_until = None
            await uow.followup.save_recommendation(recommendation, now)
        await schedule_recommendation(uow, case, recommendation, now, calendar)


# --- following a recommendation up ---------------------------------------------------------


@dataclass(frozen=True)
class RecommendationView:
    recommendation: Recommendation
    case: Consultation
    owner_name: str
    case_manager_id: int | None
    can_update: bool
    # When the snoozed reminder comes, while it is still to come.
    snoozed_until: datetime | None = None


class FollowUpAction:
    DONE = "done"
    IN_PROGRESS = "in_progress"
    NOT_IMPLEMENTED = "not_implemented"
    SNOOZE_DAY = "snooze_day"
    SNOOZE_WEEK = "snooze_week"
    ALL = frozenset({DONE, IN_PROGRESS, NOT_IMPLEMENTED, SNOOZE_DAY, SNOOZE_WEEK})


async def _recommendation_view(
    uow: UnitOfWork,
    actor_id: int,
    recommendation: Recommendation,
    case: Consultation,
    now: datetime,
) -> RecommendationView:
    assert case.id is not None
    manager = await uow.followup.case_manager(case.id)
    allowed = (
        recommendation.owner.user_id == actor_id
        or manager == actor_id
        or await is_coordinator(uow, case.team_id, actor_id)
    )
    if not allowed:
        raise DomainError("error.not_recommendation_owner")
    owner = (
        await uow.users.get(recommendation.owner.user_id)
        if recommendation.owner.user_id is not None
        else None
    )
    return RecommendationView(
        recommendation,
        case,
        owner.name if owner else "",
        manager,
        can_update=recommendation.active and case.status not in FINISHED,
        snoozed_until=(
            recommendation.snoozed_until
            if recommendation.snoozed_until is not None and recommendation.snoozed_until > now
            else None
        ),
    )


async def view_recommendation(
    uow: UnitOfWork, actor_id: int, recommendation_id: int, now: datetime
) -> RecommendationView:
    async with uow:
        recommendation = await uow.followup.get_recommendation(recommendation_id)
        if recommendation is None:
            raise NotFound()
        case = await sent_case(uow, recommendation.consultation_id)
        view = await _recommendation_view(uow, actor_id, recommendation, case, now)
        await audit_case(
            uow, actor_id, "recommendation.viewed", case, now, recommendation=recommendation_id
        )
        await uow.commit()
        return view


async def update_recommendation(
    uow: UnitOfWork,
    actor_id: int,
    recommendation_id: int,
    action: str,
    *,
    due: date | None,
    reason: str,
    now: datetime,
    calendar: BusinessCalendar,
    reason_category: NotImplementedReason | None = None,
) -> RecommendationView:
    """The owner (or the case manager, or a coordinator) answers a follow-up card: done,
    in progress with a new date, not implemented with a reason and its category, or
    snooze."""
    if action not in FollowUpAction.ALL:
        raise DomainError("error.invalid_input")
    async with uow:
        recommendation = await uow.followup.get_recommendation(recommendation_id, lock=True)
        if recommendation is None:
            raise NotFound()
        case = await sent_case(uow, recommendation.consultation_id)
        await _recommendation_view(uow, actor_id, recommendation, case, now)
        if case.status in FINISHED:
            raise DomainError("error.case_closed")
        if not recommendation.active:
            raise DomainError("error.recommendation_closed")
        remind_at: datetime | None = None
        if action == FollowUpAction.DONE:
            recommendation.change(RecommendationStatus.DONE, actor_id, now)
        elif action == FollowUpAction.NOT_IMPLEMENTED:
            recommendation.change(
                RecommendationStatus.NOT_IMPLEMENTED,
                actor_id,
                now,
                reason=reason,
                category=reason_category,
            )
        elif action == FollowUpAction.IN_PROGRESS:
            recommendation.change(RecommendationStatus.IN_PROGRESS, actor_id, now, due=due)
        else:
            # Snoozing moves the reminder, not the due date: overdue stays overdue.
            remind_at = (
                calendar.add_working_days(now, 1)
                if action == FollowUpAction.SNOOZE_DAY
                else calendar.next_working_moment(now + timedelta(days=7))
            )
            recommendation.snoozed_until = remind_at
        await uow.followup.save_recommendation(recommendation, now)
        await schedule_recommendation(uow, case, recommendation, now, calendar, remind_at=remind_at)
        await audit_case(
            uow,
            actor_id,
            f"recommendation.{action}",
            case,
            now,
            recommendation=recommendation_id,
            to=recommendation.status.value,
            **(
                {"category": recommendation.reason_category.value}
                if recommendation.reason_category
                else {}
            ),
        )
        view = await _recommendation_view(uow, actor_id, recommendation, case, now)
        await uow.commit()
        return view
