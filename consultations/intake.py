"""Use cases of a consultation request and its triage (SPEC §2.1–§2.2, §2.6).

Each takes a unit of work, checks who is acting against the case (card payloads are
untrusted), changes the case, records the audit trail and queues every message and
reminder in the same commit. Refusals raise DomainError before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from consultations.calendar import BusinessCalendar
from consultations.casework import audit_case, message_case, require_coordinator
from consultations.consultation import (
    FINISHED,
    TRIAGE_REMINDER_DAYS,
    WITHDRAWABLE,
    CaseStatus,
    Consultation,
    DeclineRoute,
    RequestDetails,
    Urgency,
    case_round,
    parse_fields,
    triage_overdue,
)
from consultations.errors import DomainError, IdentityCodeRefused, InvalidInput, NotFound
from consultations.lists import Page, page_window
from consultations.model import Role
from consultations.poll import TimeSlot
from consultations.ports import UnitOfWork
from consultations.privacy import contains_identity_code

HELSINKI = ZoneInfo("Europe/Helsinki")
# SPEC §2.6 defaults, in working days (the first reminder's lives with the aggregate).
TRIAGE_ESCALATION_DAYS = 5
QUESTION_REMINDER_DAYS = 3
MAX_NOTE = 2000


def triage_subject(case_id: int) -> str:
    return f"case:{case_id}:triage"


def question_subject(case_id: int) -> str:
    return f"case:{case_id}:question"


@dataclass(frozen=True)
class QueueItem:
    case: Consultation
    working_days_waiting: int
    overdue: bool
    requester_name: str


@dataclass(frozen=True)
class QueueView:
    """A page of the triage queue and how many of the whole queue are overdue."""

    page: Page[QueueItem]
    overdue: int


@dataclass(frozen=True)
class RequestsView:
    """A page of the requester's own requests (or drafts), with the meeting time and
    place of those scheduled."""

    page: Page[Consultation]
    meetings: dict[int, tuple[TimeSlot, str]]


def _note_text(value: Any, missing_code: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DomainError(missing_code)
    if len(text) > MAX_NOTE:
        raise DomainError("error.field_too_long", limit=MAX_NOTE)
    if contains_identity_code(text):
        raise IdentityCodeRefused()
    return text


async def _case(uow: UnitOfWork, case_id: int) -> Consultation:
    case = await uow.consultations.get(case_id)
    if case is None:
        raise NotFound()
    return case


def _require_requester(case: Consultation, actor_id: int) -> None:
    if case.requester_id != actor_id:
        raise DomainError("error.not_requester")


async def send_to_triage(
    uow: UnitOfWork, case: Consultation, now: datetime, calendar: BusinessCalendar
) -> None:
    """Triage cards to the team's coordinators now, reminders later (SPEC §2.6)."""
    assert case.id is not None and case.team_id is not None
    coordinators = await uow.teams.holders(case.team_id, Role.COORDINATOR)
    round_ = case_round(case)
    reminder_at = calendar.add_working_days(now, TRIAGE_REMINDER_DAYS)
    escalation_at = calendar.add_working_days(now, TRIAGE_ESCALATION_DAYS)
    for coordinator in coordinators:
        base = f"case:{case.id}:r{round_}:c{coordinator.id}"
        await message_case(
            uow,
            key=f"{base}:triage",
            kind="triage.request",
            user_id=coordinator.id,
            case=case,
            due_at=now,
            now=now,
        )
        await message_case(
            uow,
            key=f"{base}:triage-reminder",
            kind="triage.reminder",
            user_id=coordinator.id,
            case=case,
            due_at=reminder_at,
            now=now,
            subject=triage_subject(case.id),
        )
        # Still untriaged after a week: an escalation, worded as one, to every coordinator
        # of the team (the triage card went to all of them at once).
        await message_case(
            uow,
            key=f"{base}:escalation",
            kind="triage.escalation",
            user_id=coordinator.id,
            case=case,
            due_at=escalation_at,
            now=now,
            subject=triage_subject(case.id),
        )


async def request_defaults(uow: UnitOfWork, requester_id: int) -> RequestDetails:
    """What a new request starts with, nothing stored yet: the requester's own team."""
    async with uow:
        teams = await uow.teams.teams_of(requester_id)
        return RequestDetails(team_id=teams[0].id if teams else None)


async def start_request(
    uow: UnitOfWork, requester_id: int, values: dict[str, Any], page: str, now: datetime
) -> Consultation:
    """The first save of a new request creates its draft with what the page holds.

    A page with nothing worth keeping (only the default team) is refused with
    "error.draft_empty": `uusi` alone leaves no empty draft behind."""
    changes = parse_fields(values, now.astimezone(HELSINKI).date())
    async with uow:
        teams = await uow.teams.teams_of(requester_id)
        details = RequestDetails(team_id=teams[0].id if teams else None).merged(changes)
        if not details.has_content():
            raise DomainError("error.draft_empty")
        if details.team_id is not None and await uow.teams.get(details.team_id) is None:
            raise InvalidInput()
        if details.urgency is Urgency.NORMAL:
            details = details.merged({"urgent_timeframe": ""})
        case = Consultation(id=None, requester_id=requester_id, details=details, draft_page=page)
        await uow.consultations.add(case, now)
        await audit_case(
            uow, requester_id, "consultation.draft_started", case, now, fields=sorted(changes)
        )
        await uow.commit()
        return case


async def open_draft(uow: UnitOfWork, actor_id: int, case_id: int, now: datetime) -> Consultation:
    async with uow:
        case = await _case(uow, case_id)
        _require_requester(case, actor_id)
        if case.status is not CaseStatus.DRAFT:
            raise DomainError("error.case_not_editable")
        await audit_case(uow, actor_id, "consultation.viewed", case, now)
        await uow.commit()
        return case


async def update_draft(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    values: dict[str, Any],
    page: str,
    now: datetime,
) -> Consultation:
    """Save a page of the request form into the draft (only the requester, only a draft)."""
    # "Today" for a consent date is the Finnish date, not UTC's (00-02 h differ).
    changes = parse_fields(values, now.astimezone(HELSINKI).date())
    async with uow:
        case = await _case(uow, case_id)
        _require_requester(case, actor_id)
        if case.status is not CaseStatus.DRAFT:
            raise DomainError("error.case_not_editable")
        new_team = changes.get("team_id")
        if new_team is not None and await uow.teams.get(new_team) is None:
            raise InvalidInput()
        case.details = case.details.merged(changes)
        if changes.get("urgency") is Urgency.NORMAL:
            case.details = case.details.merged({"urgent_timeframe": ""})
        case.draft_page = page
        await uow.consultations.save(case, now)
        await audit_case(
            uow, actor_id, "consultation.draft_saved", case, now, fields=sorted(changes)
        )
        await uow.commit()
        return case


async def submit_request(
    uow: UnitOfWork, actor_id: int, case_id: int, now: datetime, calendar: BusinessCalendar
) -> Consultation:
    """Submit a complete draft: a case number, and the team's coordinators are told."""
    async with uow:
        case = await _case(uow, case_id)
        _require_requester(case, actor_id)
        if case.status is not CaseStatus.DRAFT:
            raise DomainError("error.case_not_editable")
        if not case.details.can_submit():
            raise DomainError("error.request_incomplete")
        assert case.team_id is not None
        if await uow.teams.get(case.team_id) is None:
            raise InvalidInput()
        case.transition(CaseStatus.SUBMITTED, actor_id, now, "submitted")
        case.case_number = await uow.consultations.next_case_number(
            now.astimezone(calendar.tz).year
        )
        case.submitted_at = now
        case.draft_page = ""
        await uow.consultations.save(case, now)
        await send_to_triage(uow, case, now, calendar)
        await audit_case(uow, actor_id, "consultation.submitted", case, now)
        await uow.commit()
        return case


async def discard_draft(uow: UnitOfWork, actor_id: int, case_id: int, now: datetime) -> None:
    async with uow:
        case = await _case(uow, case_id)
        _require_requester(case, actor_id)
        if case.status is not CaseStatus.DRAFT:
            raise DomainError("error.case_not_editable")
        case.transition(CaseStatus.WITHDRAWN, actor_id, now, "draft_discarded")
        await uow.consultations.save(case, now)
        await audit_case(uow, actor_id, "consultation.draft_discarded", case, now)
        await uow.commit()


async def withdraw_request(
    uow: UnitOfWork, actor_id: int, case_id: int, now: datetime
) -> Consultation:
    """The requester takes the request back; coordinators are told, reminders stop."""
    async with uow:
        case = await _case(uow, case_id)
        _require_requester(case, actor_id)
        if case.status not in WITHDRAWABLE:
            raise DomainError("error.case_not_editable")
        case.transition(CaseStatus.WITHDRAWN, actor_id, now, "withdrawn")
        case.pending_question = ""
        await uow.consultations.save(case, now)
        assert case.id is not None
        # A case brought back for a new round keeps its case manager until it ends.
        await uow.followup.end_case_manager(case.id, now)
        await uow.outbox.cancel_subject(triage_subject(case.id))
        await uow.outbox.cancel_subject(question_subject(case.id))
        if case.team_id is not None:
            for coordinator in await uow.teams.holders(case.team_id, Role.COORDINATOR):
                await message_case(
                    uow,
                    key=f"case:{case.id}:withdrawn:c{coordinator.id}",
                    kind="case.withdrawn",
                    user_id=coordinator.id,
                    case=case,
                    due_at=now,
                    now=now,
                )
        await audit_case(uow, actor_id, "consultation.withdrawn", case, now)
        await uow.commit()
        return case


async def view_for_triage(
    uow: UnitOfWork, actor_id: int, case_id: int, now: datetime
) -> tuple[Consultation, str, str, Sequence[tuple[str, str, datetime]]]:
    """A coordinator opens a case: (case, requester name, team name, notes)."""
    async with uow:
        case = await _case(uow, case_id)
        if case.status is CaseStatus.DRAFT:
            # A draft is the requester's alone until it is sent; not even its existence shows.
            raise NotFound()
        await require_coordinator(uow, case.team_id, actor_id)
        requester = await uow.users.get(case.requester_id)
        team = await uow.teams.get(case.team_id) if case.team_id else None
        notes = await uow.consultations.notes(case_id)
        await audit_case(uow, actor_id, "consultation.viewed", case, now)
        await uow.commit()
        return case, requester.name if requester else "", team.name if team else "", notes


async def accept_request(
    uow: UnitOfWork, actor_id: int, case_id: int, now: datetime
) -> Consultation:
    async with uow:
        case = await _case(uow, case_id)
        await require_coordinator(uow, case.team_id, actor_id)
        case.transition(CaseStatus.ACCEPTED, actor_id, now, "accepted")
        await uow.consultations.save(case, now)
        assert case.id is not None
        await uow.outbox.cancel_subject(triage_subject(case.id))
        await message_case(
            uow,
            key=f"case:{case.id}:r{case_round(case)}:accepted",
            kind="case.accepted",
            user_id=case.requester_id,
            case=case,
            due_at=now,
            now=now,
        )
        await audit_case(uow, actor_id, "consultation.accepted", case, now)
        await uow.commit()
        return case


async def ask_for_information(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    question: Any,
    now: datetime,
    calendar: BusinessCalendar,
) -> Consultation:
    """The coordinator's question goes to the requester; the case waits for the answer."""
    text = _note_text(question, "error.question_required")
    async with uow:
        case = await _case(uow, case_id)
        await require_coordinator(uow, case.team_id, actor_id)
        case.transition(CaseStatus.NEEDS_INFO, actor_id, now, "asked")
        case.pending_question = text
        await uow.consultations.save(case, now)
        assert case.id is not None
        await uow.consultations.add_note(case.id, actor_id, "question", text, now)
        await uow.outbox.cancel_subject(triage_subject(case.id))
        asked = len(await uow.consultations.notes(case.id))
        await message_case(
            uow,
            key=f"case:{case.id}:q{asked}",
            kind="case.question",
            user_id=case.requester_id,
            case=case,
            due_at=now,
            now=now,
        )
        await message_case(
            uow,
            key=f"case:{case.id}:q{asked}:reminder",
            kind="question.reminder",
            user_id=case.requester_id,
            case=case,
            due_at=calendar.add_working_days(now, QUESTION_REMINDER_DAYS),
            now=now,
            subject=question_subject(case.id),
        )
        await audit_case(uow, actor_id, "consultation.asked", case, now)
        await uow.commit()
        return case


async def answer_question(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    answer: Any,
    now: datetime,
    calendar: BusinessCalendar,
) -> Consultation:
    """The requester answers; the case returns to the coordinators for triage."""
    text = _note_text(answer, "error.answer_required")
    async with uow:
        case = await _case(uow, case_id)
        _require_requester(case, actor_id)
        if case.status is not CaseStatus.NEEDS_INFO:
            # Without this, an "answer" would bring a case in follow-up back to the team,
            # which is the case manager's decision (SPEC §2.5).
            raise DomainError("error.no_question_pending")
        case.transition(CaseStatus.SUBMITTED, actor_id, now, "answered")
        case.pending_question = ""
        await uow.consultations.save(case, now)
        assert case.id is not None
        await uow.consultations.add_note(case.id, actor_id, "answer", text, now)
        await uow.outbox.cancel_subject(question_subject(case.id))
        await send_to_triage(uow, case, now, calendar)
        await audit_case(uow, actor_id, "consultation.answered", case, now)
        await uow.commit()
        return case


@dataclass(frozen=True)
class QuestionView:
    """The coordinator's latest question to the requester and, once sent, the answer."""

    case: Consultation
    question: str
    answer: str | None


def latest_exchange(notes: Sequence[tuple[str, str, datetime]]) -> tuple[str, str | None]:
    """The latest question in a case's notes and the answer that followed it, if any."""
    for index in range(len(notes) - 1, -1, -1):
        kind, text, _at = notes[index]
        if kind == "question":
            after = [t for k, t, _ in notes[index + 1 :] if k == "answer"]
            return text, after[0] if after else None
    return "", None


async def question_view(
    uow: UnitOfWork, actor_id: int, case_id: int, now: datetime
) -> QuestionView:
    """The requester looks at the question put to them (and what they answered)."""
    async with uow:
        case = await _case(uow, case_id)
        _require_requester(case, actor_id)
        question, answer = latest_exchange(await uow.consultations.notes(case_id))
        await audit_case(uow, actor_id, "consultation.viewed", case, now)
        await uow.commit()
        return QuestionView(case, question or case.pending_question, answer)


async def decline_request(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    reason: Any,
    route: Any,
    now: datetime,
) -> Consultation:
    """Decline with a reason and a suggested route; the requester is told both."""
    text = _note_text(reason, "error.reason_required")
    try:
        suggested = DeclineRoute(route) if route else None
    except ValueError:
        raise InvalidInput() from None
    async with uow:
        case = await _case(uow, case_id)
        await require_coordinator(uow, case.team_id, actor_id)
        case.transition(CaseStatus.DECLINED, actor_id, now, "declined")
        case.decline_reason = text
        case.decline_route = suggested
        case.pending_question = ""
        await uow.consultations.save(case, now)
        assert case.id is not None
        await uow.followup.end_case_manager(case.id, now)
        await uow.outbox.cancel_subject(triage_subject(case.id))
        await uow.outbox.cancel_subject(question_subject(case.id))
        await message_case(
            uow,
            key=f"case:{case.id}:r{case_round(case)}:declined",
            kind="case.declined",
            user_id=case.requester_id,
            case=case,
            due_at=now,
            now=now,
        )
        await audit_case(uow, actor_id, "consultation.declined", case, now)
        await uow.commit()
        return case


@dataclass(frozen=True)
class OwnList:
    """One person asking for a page of their own requests (or drafts)."""

    actor_id: int
    drafts: bool
    limit: int
    offset: int = 0


async def my_requests(
    uow: UnitOfWork,
    actor_id: int,
    now: datetime,
    *,
    drafts: bool,
    limit: int,
    offset: int = 0,
) -> RequestsView:
    """`omat`/`luonnokset`: a page of the requester's own requests or drafts."""
    (view,) = await own_lists(uow, [OwnList(actor_id, drafts, limit, offset)], now)
    return view


async def own_lists(uow: UnitOfWork, asks: Sequence[OwnList], now: datetime) -> list[RequestsView]:
    """Several people's pages of their own requests, read together (what each may see is
    their own: the requester is who asked). Each look is audited."""
    windows = [(ask, *page_window(ask.offset, ask.limit)) for ask in asks]
    async with uow:
        pages: dict[tuple[bool, int, int], Mapping[int, Page[Consultation]]] = {}
        for shape in {(ask.drafts, offset, limit) for ask, offset, limit in windows}:
            drafts, offset, limit = shape
            who = [ask.actor_id for ask, o, lim in windows if (ask.drafts, o, lim) == shape]
            pages[shape] = await uow.consultations.of_requesters(
                who, drafts=drafts, limit=limit, offset=offset
            )
        found = [pages[(ask.drafts, o, lim)][ask.actor_id] for ask, o, lim in windows]
        scheduled = [
            c.id for page in found for c in page.items if c.status is CaseStatus.SCHEDULED and c.id
        ]
        meetings = dict(await uow.polls.fixed_meetings(scheduled)) if scheduled else {}
        for ask in asks:
            await uow.audit.record(
                at=now,
                actor_user_id=ask.actor_id,
                action="consultation.listed_own",
                subject_type="user",
                subject_id=str(ask.actor_id),
            )
        await uow.commit()
    return [
        RequestsView(page, {c.id: meetings[c.id] for c in page.items if c.id in meetings})
        for page in found
    ]


def triage_counting_from(now: datetime, calendar: BusinessCalendar) -> datetime:
    """Requests waiting for triage since before this moment are overdue by `now`."""
    return calendar.waited_since_before(now, TRIAGE_REMINDER_DAYS)


async def triage_queue(
    uow: UnitOfWork,
    actor_id: int,
    now: datetime,
    calendar: BusinessCalendar,
    *,
    limit: int,
    offset: int = 0,
) -> QueueView:
    """A page of the open requests of the teams the actor coordinates, overdue first,
    then oldest first, with days waiting; and the overdue count of the whole queue."""
    offset, limit = page_window(offset, limit)
    async with uow:
        team_ids = [team.id for team in await uow.teams.coordinated_by(actor_id)]
        if not team_ids:
            raise DomainError("error.not_coordinator")
        rows, overdue = await uow.consultations.triage_queue(
            team_ids, triage_counting_from(now, calendar), limit=limit, offset=offset
        )
        items = []
        for row in rows.items:
            case = row.case
            waiting_since = case.submitted_at or case.created_at or now
            days = calendar.working_days_between(waiting_since, now)
            items.append(QueueItem(case, days, triage_overdue(case, days), row.requester_name))
        for team_id in team_ids:
            await uow.audit.record(
                at=now,
                actor_user_id=actor_id,
                action="consultation.queue_viewed",
                subject_type="team",
                subject_id=str(team_id),
                team_id=team_id,
            )
        await uow.commit()
        return QueueView(Page(items, rows.offset, rows.total), overdue)


def still_relevant(kind: str, case: Consultation) -> bool:
    """A reminder whose reason has passed is not sent (belt and braces for cancellation)."""
    if kind in ("triage.reminder", "triage.escalation"):
        return case.status is CaseStatus.SUBMITTED
    if kind == "question.reminder":
        return case.status is CaseStatus.NEEDS_INFO
    return case.status not in FINISHED or kind.startswith("case.")
