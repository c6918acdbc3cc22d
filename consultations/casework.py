"""What every use case on a consultation needs: load it, check the coordinator, record
the audit trail, queue a message about it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consultations.consultation import CaseStatus, Consultation
from consultations.errors import DomainError, NotFound
from consultations.model import Role
from consultations.ports import UnitOfWork
from consultations.services import notify_user


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


async def audit_case(
    uow: UnitOfWork,
    actor_id: int | None,
    action: str,
    case: Consultation,
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
