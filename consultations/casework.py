"""What every use case on a consultation needs: load it, check the coordinator, record
the audit trail, queue a message about it; and what the follow-up rooms share: the
subjects their reminders are filed under, the reminder morning, the channel notice."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Protocol

from consultations.calendar import BusinessCalendar
from consultations.consultation import CaseStatus, Consultation
from consultations.errors import DomainError, NotFound
from consultations.model import OutgoingMessage, RecipientType, Role
from consultations.ports import UnitOfWork
from consultations.services import notify_user
from consultations.summary import MeetingSummary


async def sent_case(uow: UnitOfWork, case_id: int) -> Consultation:
    """A case the team can see: a draft is the requester's alone and does not exist here."""
    case = await uow.consultations.get(case_id)
    if case is None or case.status is CaseStatus.DRAFT:
        raise NotFound()
    return case


async def is_coordinator(uow: UnitOfWork, team_id: int | None, user_id: int) -> bool:
    return team_id is not None and Role.COORDINATOR in await uow.teams.roles_of(team_id, user_id)


async def require_coordinator(uow: UnitOfWork, team_id: int | None, actor_id: int) -> None:
    if not await is_coordinator(uow, team_id, actor_id):
        raise DomainError("error.not_coordinator")


class AuditedCase(Protocol):
    """What the trail records of a case: a Consultation, or an admin's CaseHeader."""

    @property
    def id(self) -> int | None: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def status(self) -> CaseStatus: ...


async def audit_case(
    uow: UnitOfWork,
    actor_id: int | None,
    action: str,
    case: AuditedCase,
    now: datetime,
    **details: Any,
) -> None:
    """Who did what to the case; details hold ids and codes, never free text."""
    await uow.audit.record(
        at=now,
        actor_user_id=actor_id,
        action=action,
        subject_type="consultation",
        subject_id=str(case.id),
        team_id=case.team_id,
        details={"status": case.status.value, **details},
    )


async def message_case(
    uow: UnitOfWork,
    case: Consultation,
    *,
    key: str,
    kind: str,
    user_id: int,
    due_at: datetime,
    now: datetime,
    subject: str = "",
    **payload: Any,
) -> None:
    """Queue a message about the case to one user (its card is built at send time)."""
    assert case.id is not None
    await notify_user(
        uow,
        key=key,
        kind=kind,
        user_id=user_id,
        team_id=case.team_id,
        due_at=due_at,
        now=now,
        payload={"case_id": case.id, "user_id": user_id, **payload},
        subject=subject,
    )


def summary_subject(case_id: int) -> str:
    return f"case:{case_id}:summary"


def recommendation_subject(recommendation_id: int) -> str:
    """The due reminder of a recommendation (to its owner or the case manager)."""
    return f"rec:{recommendation_id}"


def escalation_subject(recommendation_id: int) -> str:
    """The coordinator's overdue escalation of a recommendation: filed apart from the due
    reminder, which is moved far more often (a snooze, a new case manager)."""
    return f"rec:{recommendation_id}:escalation"


async def stop_recommendation_reminders(uow: UnitOfWork, recommendation_id: int) -> None:
    await uow.outbox.cancel_subject(recommendation_subject(recommendation_id))
    await uow.outbox.cancel_subject(escalation_subject(recommendation_id))


def review_subject(case_id: int) -> str:
    return f"case:{case_id}:review"


def handover_subject(handover_id: int) -> str:
    return f"handover:{handover_id}"


def feedback_subject(case_id: int) -> str:
    return f"case:{case_id}:feedback"


def morning(day: date, calendar: BusinessCalendar) -> datetime:
    """A date's reminder moment: 08:00 Helsinki, or the next working moment after it."""
    return calendar.next_working_moment(datetime.combine(day, time(8), tzinfo=calendar.tz))


async def channel_notice(uow: UnitOfWork, case: Consultation, key: str, now: datetime) -> None:
    """The team channel hears the case number and status only (SPEC §3)."""
    if case.team_id is None:
        return
    team = await uow.teams.get(case.team_id)
    if team is None or not team.general_channel_id:
        return
    await uow.outbox.add(
        OutgoingMessage(
            idempotency_key=key,
            kind="case.notice",
            recipient_type=RecipientType.CHANNEL,
            recipient_id=team.general_channel_id,
            due_at=now,
            payload={"case_id": case.id, "status": case.status.value},
            team_id=case.team_id,
        ),
        now,
    )


async def latest_published(uow: UnitOfWork, case_id: int) -> MeetingSummary | None:
    versions = await uow.followup.published_summaries(case_id)
    return versions[-1] if versions else None


async def follow_up_coordinators(uow: UnitOfWork, case: Consultation) -> list[int]:
    """Who gets a case's follow-up nudges: the coordinator who published its summary while
    they hold the role, else every coordinator of the team."""
    assert case.id is not None and case.team_id is not None
    latest = await latest_published(uow, case.id)
    holders = [u.id for u in await uow.teams.holders(case.team_id, Role.COORDINATOR)]
    if latest is not None and latest.published_by in holders:
        return [latest.published_by]
    return holders
