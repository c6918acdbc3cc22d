"""The availability poll: proposed slots, invitees, votes, and the best-slot rule (SPEC §2.3)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from consultations.calendar import BusinessCalendar
from consultations.errors import DomainError
from consultations.model import Profession

MAX_SLOTS = 8
MAX_INVITEES = 30
DURATIONS = (30, 45, 60, 90, 120)


class Answer(enum.StrEnum):
    YES = "yes"
    IF_NEED_BE = "if_need_be"
    NO = "no"


class PollState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # deadline passed or closed by hand; waiting for the decision
    FINALIZED = "finalized"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TimeSlot:
    id: int | None
    start: datetime
    minutes: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Invitee:
    user_id: int
    name: str
    profession: Profession | None
    required: bool
    # Their Teams user id: their card asks Teams to refresh it for them.
    teams_user_id: str = ""


@dataclass(frozen=True)
class SlotTally:
    slot: TimeSlot
    yes: int
    if_need_be: int
    no: int
    # Required invitees who said no here: such a slot is never recommended silently.
    required_no: tuple[int, ...]
    # Required invitees who have not said yes or if-need-be (yet).
    required_missing: tuple[int, ...]
    professions: frozenset[Profession]

    @property
    def all_required_available(self) -> bool:
        return not self.required_no and not self.required_missing


@dataclass
class AvailabilityPoll:
    id: int | None
    consultation_id: int
    team_id: int
    created_by: int
    slots: list[TimeSlot]
    invitees: list[Invitee]
    deadline: datetime
    place: str = ""
    state: PollState = PollState.OPEN
    wanted: frozenset[Profession] = frozenset()
    # votes[user_id][slot_id] = answer
    votes: dict[int, dict[int, Answer]] = field(default_factory=dict)
    chosen_slot_id: int | None = None
    sequence: int = 0  # the .ics SEQUENCE: every reschedule or cancel increments it

    def invitee(self, user_id: int) -> Invitee | None:
        return next((i for i in self.invitees if i.user_id == user_id), None)

    def slot(self, slot_id: int) -> TimeSlot | None:
        return next((s for s in self.slots if s.id == slot_id), None)

    @property
    def chosen_slot(self) -> TimeSlot | None:
        """The fixed meeting time, once there is one."""
        return self.slot(self.chosen_slot_id) if self.chosen_slot_id is not None else None

    def attendees(self) -> list[int]:
        """Who is told of the fixed meeting: every invitee who did not say no to the chosen
        time (a required invitee always), in invitation order."""
        chosen = self.chosen_slot_id
        return [
            i.user_id
            for i in self.invitees
            if i.required or self.votes.get(i.user_id, {}).get(chosen or -1) is not Answer.NO
        ]

    def not_answered(self) -> list[Invitee]:
        """Invitees who have not answered every slot."""
        return [i for i in self.invitees if not self.has_answered(i.user_id)]

    def has_answered(self, user_id: int) -> bool:
        """Whether this invitee has answered every slot."""
        return {s.id for s in self.slots} <= self.votes.get(user_id, {}).keys()

    def everyone_answered(self) -> bool:
        return not self.not_answered()

    def tallies(self) -> list[SlotTally]:
        by_user = {i.user_id: i for i in self.invitees}
        result = []
        for slot in self.slots:
            assert slot.id is not None
            answers = {
                user_id: votes[slot.id]
                for user_id, votes in self.votes.items()
                if slot.id in votes and user_id in by_user
            }
            available = [u for u, a in answers.items() if a is not Answer.NO]
            result.append(
                SlotTally(
                    slot=slot,
                    yes=sum(1 for a in answers.values() if a is Answer.YES),
                    if_need_be=sum(1 for a in answers.values() if a is Answer.IF_NEED_BE),
                    no=sum(1 for a in answers.values() if a is Answer.NO),
                    required_no=tuple(
                        u for u, a in answers.items() if a is Answer.NO and by_user[u].required
                    ),
                    required_missing=tuple(
                        i.user_id
                        for i in self.invitees
                        if i.required and i.user_id not in available
                    ),
                    professions=frozenset(
                        p for u in available if (p := by_user[u].profession) is not None
                    ),
                )
            )
        return result

    def recommended(self) -> SlotTally | None:
        """SPEC §2.3: every required invitee available, then widest coverage of the wanted
        professions, then most yes, then most if-need-be, then earliest.

        None when no slot has every required invitee available: a slot where a required
        invitee said no is never recommended silently.
        """
        candidates = [t for t in self.tallies() if t.all_required_available]
        if not candidates:
            return None
        wanted = self.wanted

        def rank(t: SlotTally) -> tuple[int, int, int, float]:
            coverage = len(t.professions & wanted) if wanted else len(t.professions)
            return (-coverage, -t.yes, -t.if_need_be, t.slot.start.timestamp())

        return min(candidates, key=rank)

    def record_vote(self, user_id: int, answers: Mapping[int, Answer]) -> None:
        """An invitee's answers (all or some slots); changeable until the poll closes."""
        if self.state is not PollState.OPEN:
            raise DomainError("error.poll_closed")
        if self.invitee(user_id) is None:
            raise DomainError("error.not_invited")
        slot_ids = {s.id for s in self.slots}
        if not answers or any(slot_id not in slot_ids for slot_id in answers):
            raise DomainError("error.invalid_input")
        try:
            # Tallies compare by identity: a plain "no" must become Answer.NO here.
            checked = {slot_id: Answer(answer) for slot_id, answer in answers.items()}
        except ValueError:
            raise DomainError("error.invalid_input") from None
        self.votes.setdefault(user_id, {}).update(checked)

    def close(self) -> None:
        if self.state is not PollState.OPEN:
            raise DomainError("error.poll_closed")
        self.state = PollState.CLOSED

    def finalize(self, slot_id: int, *, override: bool) -> TimeSlot:
        """Fix the meeting time. A slot without every required invitee needs `override`."""
        if self.state not in (PollState.OPEN, PollState.CLOSED):
            raise DomainError("error.poll_closed")
        tally = next((t for t in self.tallies() if t.slot.id == slot_id), None)
        if tally is None:
            raise DomainError("error.invalid_input")
        if not tally.all_required_available and not override:
            raise DomainError("error.required_unavailable")
        self.state = PollState.FINALIZED
        self.chosen_slot_id = slot_id
        return tally.slot

    def cancel(self) -> None:
        if self.state is PollState.CANCELLED:
            raise DomainError("error.poll_closed")
        self.state = PollState.CANCELLED
        self.sequence += 1


def validate_slots(
    starts: Iterable[tuple[datetime, int]], now: datetime, calendar: BusinessCalendar
) -> list[TimeSlot]:
    """Proposed slots: in the future, on working days, inside working hours, distinct."""
    slots: list[TimeSlot] = []
    for start, minutes in starts:
        if minutes not in DURATIONS:
            raise DomainError("error.slot_duration")
        if start <= now:
            raise DomainError("error.slot_in_past")
        local = start.astimezone(calendar.tz)
        end = (start + timedelta(minutes=minutes)).astimezone(calendar.tz)
        if not calendar.is_working_day(local.date()):
            raise DomainError("error.slot_not_working_day")
        if (
            local.time() < calendar.day_start
            or end.time() > calendar.day_end
            or end.date() != local.date()
        ):
            raise DomainError("error.slot_outside_hours")
        slots.append(TimeSlot(None, start, minutes))
    if not slots:
        raise DomainError("error.no_slots")
    if len(slots) > MAX_SLOTS:
        raise DomainError("error.too_many_slots", limit=MAX_SLOTS)
    if len({s.start for s in slots}) != len(slots):
        raise DomainError("error.duplicate_slots")
    return sorted(slots, key=lambda s: s.start)


def validate_deadline(deadline: datetime, slots: Sequence[TimeSlot], now: datetime) -> datetime:
    if deadline <= now:
        raise DomainError("error.deadline_in_past")
    if deadline >= min(s.start for s in slots):
        raise DomainError("error.deadline_after_slot")
    return deadline


def suggest_slots(
    now: datetime,
    calendar: BusinessCalendar,
    regular: Sequence[tuple[int, int, int]],
    count: int = 3,
    horizon_days: int = 28,
) -> list[datetime]:
    """The team's regular consultation times (weekday, hour, minute) in the coming weeks,
    skipping weekends and Finnish holidays, earliest first."""
    found: list[datetime] = []
    day = now.astimezone(calendar.tz).date()
    for offset in range(1, horizon_days + 1):
        current = day + timedelta(days=offset)
        if not calendar.is_working_day(current):
            continue
        for weekday, hour, minute in sorted(regular):
            if current.weekday() == weekday:
                start = datetime(
                    current.year, current.month, current.day, hour, minute, tzinfo=calendar.tz
                )
                if start > now:
                    found.append(start)
        if len(found) >= count:
            break
    return found[:count]
