"""Use cases of the availability poll (SPEC §2.3, §2.6): open, vote, finalize, cancel.

Authorisation is checked here against the acting user; card payloads are untrusted.
Every message and reminder is queued in the same commit as the change that causes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from consultations.calendar import BusinessCalendar
from consultations.casework import require_coordinator, sent_case, summary_subject
from consultations.consultation import CaseStatus, Consultation
from consultations.errors import DomainError, IdentityCodeRefused, NotFound
from consultations.poll import (
    MAX_INVITEES,
    Answer,
    AvailabilityPoll,
    Invitee,
    PollState,
    TimeSlot,
    validate_deadline,
    validate_slots,
)
from consultations.ports import UnitOfWork
from consultations.privacy import contains_identity_code
from consultations.services import notify_user
from consultations.summaries import queue_summary_prompts

MAX_PLACE = 500


def nudge_subject(poll_id: int) -> str:
    return f"poll:{poll_id}:nudge"


def deadline_subject(poll_id: int) -> str:
    return f"poll:{poll_id}:deadline"


def nudge_key(poll_id: int, user_id: int) -> str:
    return f"poll:{poll_id}:nudge:{user_id}"


def nudge_time(deadline: datetime, calendar: BusinessCalendar) -> datetime:
    """One working day before the deadline, at the deadline's wall-clock time (SPEC §2.6)."""
    local = deadline.astimezone(calendar.tz)
    day = local.date() - timedelta(days=1)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    moment = datetime.combine(day, local.time(), tzinfo=calendar.tz)
    return calendar.next_working_moment(moment)


async def _poll(uow: UnitOfWork, poll_id: int, lock: str = "none") -> AvailabilityPoll:
    poll = await uow.polls.get(poll_id, lock=lock)
    if poll is None:
        raise NotFound()
    return poll


async def _tell(
    uow: UnitOfWork,
    *,
    key: str,
    kind: str,
    user_id: int,
    poll: AvailabilityPoll,
    due_at: datetime,
    now: datetime,
    subject: str = "",
    **payload: Any,
) -> None:
    assert poll.id is not None
    await notify_user(
        uow,
        key=key,
        kind=kind,
        user_id=user_id,
        team_id=poll.team_id,
        due_at=due_at,
        now=now,
        payload={"poll_id": poll.id, "user_id": user_id, **payload},
        subject=subject,
    )


async def _audit(
    uow: UnitOfWork,
    actor_id: int,
    action: str,
    poll: AvailabilityPoll,
    now: datetime,
    **details: Any,
) -> None:
    await uow.audit.record(
        at=now,
        actor_user_id=actor_id,
        action=action,
        subject_type="consultation",
        subject_id=str(poll.consultation_id),
        team_id=poll.team_id,
        details={"poll_id": poll.id, "state": poll.state.value, **details},
    )


async def _accepted_case(uow: UnitOfWork, actor_id: int, case_id: int) -> Consultation:
    """The case a coordinator of its team may start a poll for: an accepted one."""
    case = await sent_case(uow, case_id)
    await require_coordinator(uow, case.team_id, actor_id)
    if case.status is not CaseStatus.ACCEPTED:
        raise DomainError("error.case_not_accepted")
    return case


async def setup_view(
    uow: UnitOfWork, actor_id: int, case_id: int
) -> tuple[Consultation, list[tuple[int, str, Any]], frozenset[int]]:
    """What the coordinator needs to propose a poll: the case, the team roster and the
    members suggested by the wanted professions."""
    async with uow:
        case = await _accepted_case(uow, actor_id, case_id)
        assert case.team_id is not None
        members = await uow.teams.members(case.team_id)
        wanted = case.details.professions
        suggested = frozenset(m.id for m in members if m.profession in wanted)
        return case, [(m.id, m.name, m.profession) for m in members], suggested


async def fixed_meetings(
    uow: UnitOfWork, case_ids: Sequence[int]
) -> dict[int, tuple[TimeSlot, str]]:
    """The fixed meeting (time and place) of each of these cases that has one; for lists
    the caller already may show (a requester's own `omat`)."""
    found: dict[int, tuple[TimeSlot, str]] = {}
    async with uow:
        for case_id in case_ids:
            poll = await uow.polls.latest_for(case_id)
            chosen = poll.chosen_slot if poll and poll.state is PollState.FINALIZED else None
            if poll is not None and chosen is not None:
                found[case_id] = (chosen, poll.place)
    return found


async def open_poll(
    uow: UnitOfWork,
    actor_id: int,
    case_id: int,
    *,
    slots: Sequence[tuple[datetime, int]],
    invitees: Sequence[int],
    required: Sequence[int],
    deadline: datetime,
    place: str,
    now: datetime,
    calendar: BusinessCalendar,
) -> AvailabilityPoll:
    """Propose times to the invited members; they get a card each, non-responders a nudge
    one working day before the deadline, the coordinator a call to decide at the deadline."""
    proposed = validate_slots(slots, now, calendar)
    validate_deadline(deadline, proposed, now)
    place = place.strip()
    if len(place) > MAX_PLACE:
        raise DomainError("error.field_too_long", limit=MAX_PLACE)
    if contains_identity_code(place):
        raise IdentityCodeRefused()
    invited = list(dict.fromkeys(invitees))
    if not invited:
        raise DomainError("error.no_invitees")
    if len(invited) > MAX_INVITEES:
        raise DomainError("error.too_many_invitees", limit=MAX_INVITEES)
    if not set(required) <= set(invited):
        raise DomainError("error.required_not_invited")
    async with uow:
        case = await _accepted_case(uow, actor_id, case_id)
        assert case.team_id is not None
        members = {m.id: m for m in await uow.teams.members(case.team_id)}
        if any(user_id not in members for user_id in invited):
            raise DomainError("error.not_team_member_invitee")
        poll = AvailabilityPoll(
            id=None,
            consultation_id=case_id,
            team_id=case.team_id,
            created_by=actor_id,
            slots=proposed,
            invitees=[
                Invitee(
                    u,
                    members[u].name,
                    members[u].profession,
                    u in set(required),
                    members[u].teams_user_id,
                )
                for u in invited
            ],
            deadline=deadline,
            place=place,
            wanted=case.details.professions,
        )
        poll = await uow.polls.add(poll, now)
        assert poll.id is not None
        case.transition(CaseStatus.SCHEDULING, actor_id, now, "poll_opened")
        await uow.consultations.save(case, now)
        nudge_at = nudge_time(deadline, calendar)
        for invitee in poll.invitees:
            await _tell(
                uow,
                key=f"poll:{poll.id}:invite:{invitee.user_id}",
                kind="poll.invite",
                user_id=invitee.user_id,
                poll=poll,
                due_at=now,
                now=now,
            )
            if now < nudge_at < deadline:
                await _tell(
                    uow,
                    key=nudge_key(poll.id, invitee.user_id),
                    kind="poll.nudge",
                    user_id=invitee.user_id,
                    poll=poll,
                    due_at=nudge_at,
                    now=now,
                    subject=nudge_subject(poll.id),
                )
        await _tell(
            uow,
            key=f"poll:{poll.id}:deadline",
            kind="poll.deadline",
            user_id=actor_id,
            poll=poll,
            due_at=calendar.next_working_moment(deadline),
            now=now,
            subject=deadline_subject(poll.id),
        )
        await _audit(uow, actor_id, "poll.opened", poll, now, invitees=len(invited))
        await uow.commit()
        return poll


@dataclass(frozen=True)
class VoteOutcome:
    """The poll after the vote, with what the refreshed card shows beside it."""

    poll: AvailabilityPoll
    case_number: str
    show_tallies: bool


@dataclass(frozen=True)
class Ballot:
    """One invitee's answers to one poll, as their card sent them."""

    actor_id: int
    poll_id: int
    answers: Mapping[int, Answer]


async def cast_vote(
    uow: UnitOfWork,
    actor_id: int,
    poll_id: int,
    answers: Mapping[int, Answer],
    now: datetime,
) -> VoteOutcome:
    """An invitee answers for themselves; answers may change until the poll closes."""
    (result,) = await cast_votes(uow, [Ballot(actor_id, poll_id, answers)], now)
    if isinstance(result, DomainError):
        raise result
    return result


async def cast_votes(
    uow: UnitOfWork, ballots: Sequence[Ballot], now: datetime
) -> list[VoteOutcome | DomainError]:
    """Several invitees' votes in one transaction, in the order given (a vote is the
    hottest turn of the bot, and votes arrive together).

    Each ballot is judged on its own: a refused one (not an invitee, poll closed, a slot
    of another poll) gets its DomainError, changes nothing and does not stop the others.
    Each poll is read once, with the card's case number and tally setting.
    """
    async with uow:
        polls: dict[int, VoteOutcome | DomainError] = {}
        votes: dict[int, dict[int, dict[int, Answer]]] = {}  # poll -> user -> slot -> answer
        results: list[VoteOutcome | DomainError] = []
        for ballot in ballots:
            if ballot.poll_id not in polls:
                polls[ballot.poll_id] = await _poll_for_votes(uow, ballot.poll_id)
            found = polls[ballot.poll_id]
            if isinstance(found, DomainError):
                results.append(found)
                continue
            try:
                await _vote(uow, found.poll, ballot, now)
            except DomainError as refused:
                results.append(refused)
                continue
            mine = votes.setdefault(ballot.poll_id, {}).setdefault(ballot.actor_id, {})
            mine.update(ballot.answers)
            results.append(found)
        for poll_id, answers in votes.items():
            await uow.polls.record_votes(poll_id, answers, now)
        await uow.commit()
        return results


async def _poll_for_votes(uow: UnitOfWork, poll_id: int) -> VoteOutcome | DomainError:
    found = await uow.polls.for_voting(poll_id)
    if found is None:
        return NotFound()
    poll, case_number, settings = found
    return VoteOutcome(poll, case_number, settings.show_tallies)


async def _vote(uow: UnitOfWork, poll: AvailabilityPoll, ballot: Ballot, now: datetime) -> None:
    assert poll.id is not None
    actor_id = ballot.actor_id
    others_done = all(poll.has_answered(i.user_id) for i in poll.invitees if i.user_id != actor_id)
    had_answered = poll.has_answered(actor_id)
    poll.record_vote(actor_id, ballot.answers)  # refuses before anything is written
    answered_now = not had_answered and poll.has_answered(actor_id)
    if answered_now:
        # Answered every slot for the first time: no nudge needed any more (nudges are
        # queued only for those who have not answered).
        await uow.outbox.cancel(nudge_key(poll.id, actor_id))
    if answered_now and others_done:
        # ...and with that, everyone has.
        await _tell(
            uow,
            key=f"poll:{poll.id}:everyone-answered",
            kind="poll.everyone_answered",
            user_id=poll.created_by,
            poll=poll,
            due_at=now,
            now=now,
        )
    await _audit(uow, actor_id, "poll.voted", poll, now, slots=len(ballot.answers))


async def view_poll(
    uow: UnitOfWork, actor_id: int, poll_id: int, now: datetime
) -> AvailabilityPoll:
    """An invitee or a coordinator of the team looks at the poll."""
    async with uow:
        poll = await _poll(uow, poll_id)
        if poll.invitee(actor_id) is None:
            await require_coordinator(uow, poll.team_id, actor_id)
        await _audit(uow, actor_id, "poll.viewed", poll, now)
        await uow.commit()
        return poll


async def finalize_poll(
    uow: UnitOfWork,
    actor_id: int,
    poll_id: int,
    slot_id: int,
    *,
    override: bool,
    now: datetime,
    calendar: BusinessCalendar,
) -> AvailabilityPoll:
    """Fix the time: the poll closes, nudges stop, the case is scheduled, and every
    attendee and the requester get a confirmation with an .ics invitation. When the
    meeting ends, the coordinator is asked for its summary."""
    async with uow:
        poll = await _poll(uow, poll_id, lock="update")
        await require_coordinator(uow, poll.team_id, actor_id)
        case = await sent_case(uow, poll.consultation_id)
        rescheduled = poll.state is PollState.FINALIZED
        if rescheduled:
            # A new time from the same poll: the same calendar event, a higher SEQUENCE.
            poll.state = PollState.CLOSED
            poll.sequence += 1
        poll.finalize(slot_id, override=override)
        await uow.polls.save(poll, now)
        if not rescheduled:
            case.transition(CaseStatus.SCHEDULED, actor_id, now, "poll_finalized")
            await uow.consultations.save(case, now)
        await uow.outbox.cancel_subject(nudge_subject(poll_id))
        await uow.outbox.cancel_subject(deadline_subject(poll_id))
        kind = "meeting.rescheduled" if rescheduled else "meeting.confirmed"
        for user_id in dict.fromkeys([*poll.attendees(), case.requester_id]):
            await _tell(
                uow,
                key=f"poll:{poll_id}:{kind}:{poll.sequence}:{user_id}",
                kind=kind,
                user_id=user_id,
                poll=poll,
                due_at=now,
                now=now,
            )
        await queue_summary_prompts(uow, case, poll, actor_id, now, calendar)
        await _audit(uow, actor_id, "poll.finalized", poll, now, override=override)
        await uow.commit()
        return poll


async def cancel_poll(
    uow: UnitOfWork, actor_id: int, poll_id: int, now: datetime
) -> AvailabilityPoll:
    """Cancel the poll (and the meeting, if it was fixed): everyone concerned is told and
    gets a cancelling .ics; the case returns to accepted for a new poll."""
    async with uow:
        poll = await _poll(uow, poll_id, lock="update")
        await require_coordinator(uow, poll.team_id, actor_id)
        case = await sent_case(uow, poll.consultation_id)
        was_fixed = poll.state is PollState.FINALIZED
        told = poll.attendees() if was_fixed else [i.user_id for i in poll.invitees]
        poll.cancel()
        await uow.polls.save(poll, now)
        if case.status is CaseStatus.SCHEDULED:
            case.transition(CaseStatus.SCHEDULING, actor_id, now, "meeting_cancelled")
        if case.status is CaseStatus.SCHEDULING:
            case.transition(CaseStatus.ACCEPTED, actor_id, now, "poll_cancelled")
        await uow.consultations.save(case, now)
        await uow.outbox.cancel_subject(nudge_subject(poll_id))
        await uow.outbox.cancel_subject(deadline_subject(poll_id))
        await uow.outbox.cancel_subject(summary_subject(poll.consultation_id))
        recipients = [*told, case.requester_id] if was_fixed else told
        for user_id in dict.fromkeys(recipients):
            await _tell(
                uow,
                key=f"poll:{poll_id}:cancelled:{user_id}",
                kind="meeting.cancelled",
                user_id=user_id,
                poll=poll,
                due_at=now,
                now=now,
            )
        await _audit(uow, actor_id, "poll.cancelled", poll, now)
        await uow.commit()
        return poll
