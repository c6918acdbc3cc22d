"""The data subject's rights, exercised through an admin (SPEC §5): a case's audit trail,
an export of everything stored about it, and its erasure.

Only admins may export or erase; the audit trail is also open to the coordinators of the
case's team. A refusal is recorded before it is raised: an attempt to reach a case is
part of its audit trail. Every record holds ids and codes, never text from the case.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consultations.casework import audit_case, is_coordinator
from consultations.consultation import format_case_number
from consultations.errors import DomainError, NotFound
from consultations.model import Role, User
from consultations.ports import UnitOfWork
from consultations.records import CaseHeader, ErasureReason, TrailEntry
from consultations.services import is_admin

TRAIL_PAGE = 20
_TYPED_NUMBER = re.compile(r"^\s*TK\s*-?\s*(\d{4})\s*-\s*(\d{1,7})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class AuditTrail:
    case: CaseHeader
    entries: Sequence[TrailEntry]
    total: int
    offset: int
    # Whether the viewer is an admin (who may go on to export or erase).
    admin: bool


@dataclass(frozen=True)
class CaseExport:
    case: CaseHeader
    tables: Mapping[str, list[dict[str, Any]]]
    exported_at: datetime
    exported_by: int


@dataclass(frozen=True)
class ErasurePreview:
    case: CaseHeader
    # Rows that will go, per table (no content).
    rows: Mapping[str, int]


@dataclass(frozen=True)
class ErasureReceipt:
    case_number: str
    at: datetime
    reason: ErasureReason
    rows: int


def normal_case_number(text: object) -> str | None:
    """`tk-2026-42 ` -> `TK-2026-0042`: a number as people type it, without the leading
    zeros or in lower case; None for anything that is not a case number."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    match = _TYPED_NUMBER.match(text)
    return format_case_number(int(match[1]), int(match[2])) if match else None


async def _actor(uow: UnitOfWork, actor_id: int) -> User:
    actor = await uow.users.get(actor_id)
    if actor is None:
        raise NotFound()
    return actor


async def _coordinates_any(uow: UnitOfWork, user_id: int) -> bool:
    for team in await uow.teams.teams_of(user_id):
        if Role.COORDINATOR in await uow.teams.roles_of(team.id, user_id):
            return True
    return False


async def _refuse(
    uow: UnitOfWork,
    actor: User,
    what: str,
    case: CaseHeader | None,
    now: datetime,
    error: DomainError,
) -> DomainError:
    """Record the refused attempt (committed: it must outlive the refusal)."""
    await uow.audit.record(
        at=now,
        actor_user_id=actor.id,
        action=f"consultation.{what}_refused",
        subject_type="consultation" if case else "user",
        subject_id=str(case.id) if case else str(actor.id),
        team_id=case.team_id if case else None,
    )
    await uow.commit()
    return error


async def _case_for(
    uow: UnitOfWork,
    actor: User,
    case_number: object,
    admins: Collection[str],
    what: str,
    now: datetime,
    *,
    coordinators: bool = False,
) -> tuple[CaseHeader, bool]:
    """The case an admin (or, where allowed, a coordinator of its team) asks about, and
    whether the asker is an admin."""
    number = normal_case_number(case_number)
    admin = is_admin(actor, admins)
    if admin:
        if number is None:
            raise DomainError("error.case_number_format")
        found = await uow.case_records.find(number)
        if found is None:
            raise DomainError("error.case_number_unknown", case_number=number)
        return found, True
    case = await uow.case_records.find(number) if number else None
    if coordinators and case is not None and await is_coordinator(uow, case.team_id, actor.id):
        return case, False
    if coordinators and await _coordinates_any(uow, actor.id):
        # The same answer whether the case exists or belongs to another team.
        error = DomainError("error.case_not_in_your_teams", case_number=number or "—")
    elif coordinators:
        error = DomainError("error.audit_trail_refused")
    else:
        error = DomainError("error.admins_only")
    raise await _refuse(uow, actor, what, case, now, error)


async def audit_trail(
    uow: UnitOfWork,
    actor_id: int,
    case_number: object,
    admins: Collection[str],
    now: datetime,
    *,
    offset: int = 0,
) -> AuditTrail:
    """Who read or changed the case and when, newest first, a page at a time."""
    async with uow:
        actor = await _actor(uow, actor_id)
        case, admin = await _case_for(
            uow, actor, case_number, admins, "audit_trail", now, coordinators=True
        )
        entries, total = await uow.case_records.trail(case.id, TRAIL_PAGE, max(offset, 0))
        await audit_case(uow, actor_id, "consultation.audit_trail_viewed", case, now)
        await uow.commit()
        return AuditTrail(case, entries, total, max(offset, 0), admin)


async def request_export(
    uow: UnitOfWork, actor_id: int, case_number: object, admins: Collection[str], now: datetime
) -> CaseHeader:
    """An admin asks for the export; the edge then hands out short-lived links to it."""
    async with uow:
        actor = await _actor(uow, actor_id)
        case, _admin = await _case_for(uow, actor, case_number, admins, "export", now)
        await audit_case(uow, actor_id, "consultation.export_requested", case, now)
        await uow.commit()
        return case


async def export_case(uow: UnitOfWork, admin_id: int, case_id: int, now: datetime) -> CaseExport:
    """Everything stored about the case, for the download behind a signed link that says
    which admin asked (the link is the authority; it expires within minutes)."""
    async with uow:
        case = await uow.case_records.header(case_id)
        if case is None:
            raise NotFound()
        tables = await uow.case_records.dump(case_id)
        await audit_case(uow, admin_id, "consultation.exported", case, now)
        await uow.commit()
        return CaseExport(case, tables, now, admin_id)


async def erasure_preview(
    uow: UnitOfWork, actor_id: int, case_number: object, admins: Collection[str], now: datetime
) -> ErasurePreview:
    """What erasing the case would remove, for the admin's confirmation."""
    async with uow:
        actor = await _actor(uow, actor_id)
        case, _admin = await _case_for(uow, actor, case_number, admins, "erase", now)
        tables = await uow.case_records.dump(case.id)
        rows = {name: len(found) for name, found in tables.items() if found}
        await audit_case(uow, actor_id, "consultation.erase_previewed", case, now)
        await uow.commit()
        return ErasurePreview(case, rows)


async def erase_case(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    reason: object,
    admins: Collection[str],
    now: datetime,
) -> ErasureReceipt:
    """Erase the case for good on a legitimate request. What stays is an audit record
    of the erasure with the case's id, the admin and the reason's code: nothing of what
    was erased."""
    try:
        why = ErasureReason(str(reason))
    except ValueError:
        raise DomainError("error.erasure_reason") from None
    async with uow:
        actor = await _actor(uow, actor_id)
        case = await uow.case_records.header(case_id)
        if not is_admin(actor, admins):
            raise await _refuse(uow, actor, "erase", case, now, DomainError("error.admins_only"))
        if case is None:
            raise NotFound()
        deleted = await uow.case_records.erase(case_id)
        await uow.audit.record(
            at=now,
            actor_user_id=actor_id,
            action="consultation.erased",
            subject_type="consultation",
            subject_id=str(case_id),
            team_id=case.team_id,
            details={"reason": why.value, "rows": sum(deleted.values())},
        )
        await uow.commit()
        await uow.retention.forget_freed_pages()
        return ErasureReceipt(case.case_number, now, why, sum(deleted.values()))
