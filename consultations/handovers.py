"""Handing the case manager role over *saattaen vaihtaen* (SPEC §2.5): the successor
must accept; reminders after 2 and 5 working days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from consultations.calendar import BusinessCalendar
from consultations.case_manager import AFTER_SUMMARY, schedule_review
from consultations.casework import (
    audit_case,
    follow_up_coordinators,
    handover_subject,
    latest_published,
    message_case,
    require_coordinator,
    sent_case,
)
from consultations.consultation import (
    Consultation,
)
from consultations.errors import DomainError, NotFound
from consultations.ports import UnitOfWork
from consultations.recommendations import follow_new_case_manager
from consultations.summary import (
    HANDOVER_ESCALATION_DAYS,
    HANDOVER_REMINDER_DAYS,
    HandOver,
    Recommendation,
)


async def _reschedule_for_new_manager(
    uow: UnitOfWork, case: Consultation, now: datetime, calendar: BusinessCalendar
) -> None:
    """A new case manager takes over the reminders that went to the old one."""
    assert case.id is not None
    await follow_new_case_manager(
        uow, case, await uow.followup.recommendations(case.id), now, calendar
    )
    latest = await latest_published(uow, case.id)
    if latest is not None and latest.review_date is not None:
        await schedule_review(uow, case, latest.review_date, now, calendar)


# --- hand-over, saattaen vaihtaen ----------------------------------------------------------


async def propose_handover(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    successor_id: int,
    note: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> HandOver:
    """The case manager proposes a successor with a note; the successor must accept.
    Reminded after 2 working days, the coordinator after 5 (SPEC §2.6)."""
    if not note:
        raise DomainError("error.handover_note")
    async with uow:
        case = await sent_case(uow, case_id)
        manager = await uow.followup.case_manager(case_id)
        if manager != actor_id:
            raise DomainError("error.not_case_manager")
        if case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")
        if successor_id == actor_id:
            raise DomainError("error.handover_self")
        assert case.team_id is not None
        if successor_id != case.requester_id and not await uow.teams.is_member(
            case.team_id, successor_id
        ):
            raise DomainError("error.not_team_member")
        if await uow.followup.pending_handover(case_id) is not None:
            raise DomainError("error.handover_pending")
        handover = await uow.followup.add_handover(
            HandOver(None, case_id, actor_id, successor_id, note, now)
        )
        assert handover.id is not None
        subject = handover_subject(handover.id)
        base = f"handover:{handover.id}"
        await message_case(
            uow,
            case,
            key=f"{base}:proposed",
            kind="handover.proposed",
            user_id=successor_id,
            due_at=now,
            now=now,
            subject=subject,
            handover_id=handover.id,
        )
        await message_case(
            uow,
            case,
            key=f"{base}:reminder",
            kind="handover.reminder",
            user_id=successor_id,
            due_at=calendar.add_working_days(now, HANDOVER_REMINDER_DAYS),
            now=now,
            subject=subject,
            handover_id=handover.id,
        )
        for coordinator in await follow_up_coordinators(uow, case):
            await message_case(
                uow,
                case,
                key=f"{base}:escalation:{coordinator}",
                kind="handover.escalation",
                user_id=coordinator,
                due_at=calendar.add_working_days(now, HANDOVER_ESCALATION_DAYS),
                now=now,
                subject=subject,
                handover_id=handover.id,
            )
        await audit_case(
            uow, actor_id, "handover.proposed", case, now, handover=handover.id, to=successor_id
        )
        await uow.commit()
        return handover


@dataclass(frozen=True)
class HandOverView:
    handover: HandOver
    case: Consultation
    from_name: str
    to_name: str
    recommendations: Sequence[Recommendation]


async def view_handover(
    uow: UnitOfWork, actor_id: int, handover_id: int, now: datetime
) -> HandOverView:
    async with uow:
        handover = await uow.followup.get_handover(handover_id)
        if handover is None:
            raise NotFound()
        case = await sent_case(uow, handover.consultation_id)
        # The requester hears who follows their client up; the two case managers and the
        # coordinators see the whole hand-over.
        if actor_id not in (handover.from_user_id, handover.to_user_id, case.requester_id):
            await require_coordinator(uow, case.team_id, actor_id)
        view = await _handover_view(uow, handover, case)
        await audit_case(uow, actor_id, "handover.viewed", case, now, handover=handover_id)
        await uow.commit()
        return view


async def _handover_view(uow: UnitOfWork, handover: HandOver, case: Consultation) -> HandOverView:
    assert case.id is not None
    people = await uow.users.get_many([handover.from_user_id, handover.to_user_id])
    return HandOverView(
        handover,
        case,
        people[handover.from_user_id].name if handover.from_user_id in people else "",
        people[handover.to_user_id].name if handover.to_user_id in people else "",
        [r for r in await uow.followup.recommendations(case.id) if r.active],
    )


async def answer_handover(
    uow: UnitOfWork,
    actor_id: int,
    handover_id: int,
    accept: bool,
    reason: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> HandOverView:
    """The successor accepts (and becomes the case manager) or declines; the previous case
    manager, the coordinator and, on acceptance, the requester are told."""
    async with uow:
        handover = await uow.followup.get_handover(handover_id, lock=True)
        if handover is None:
            raise NotFound()
        case = await sent_case(uow, handover.consultation_id)
        assert case.id is not None
        handover.answer(actor_id, accept, now, reason)
        if accept and case.status not in AFTER_SUMMARY:
            raise DomainError("error.case_not_in_follow_up")
        await uow.followup.save_handover(handover)
        await uow.outbox.cancel_subject(handover_subject(handover_id))
        if accept:
            await uow.followup.assign_case_manager(case.id, actor_id, actor_id, "handover", now)
            await _reschedule_for_new_manager(uow, case, now, calendar)
        kind = "handover.accepted" if accept else "handover.declined"
        told = [handover.from_user_id, *await follow_up_coordinators(uow, case)]
        if accept:
            told.append(case.requester_id)
        for user_id in dict.fromkeys(told):
            if user_id == actor_id:
                continue
            await message_case(
                uow,
                case,
                key=f"handover:{handover_id}:{kind}:{user_id}",
                kind=kind,
                user_id=user_id,
                due_at=now,
                now=now,
                handover_id=handover_id,
            )
        await audit_case(uow, actor_id, kind, case, now, handover=handover_id)
        view = await _handover_view(uow, handover, case)
        await uow.commit()
        return view
