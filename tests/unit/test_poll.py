"""The availability poll: votes, the best-slot rule and slot validation (SPEC §2.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.app import finnish_calendar
from consultations.errors import DomainError
from consultations.model import Profession
from consultations.poll import (
    MAX_SLOTS,
    Answer,
    AvailabilityPoll,
    Invitee,
    PollState,
    SlotTally,
    TimeSlot,
    suggest_slots,
    validate_deadline,
    validate_slots,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
CALENDAR = finnish_calendar()

YES, MAYBE, NO = Answer.YES, Answer.IF_NEED_BE, Answer.NO
NURSE, PHYSICIAN, PSYCHOLOGIST, SOCIAL_WORKER = (
    Profession.NURSE,
    Profession.PHYSICIAN,
    Profession.PSYCHOLOGIST,
    Profession.SOCIAL_WORKER,
)


def hel(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI)


# Monday 23.11.2026 10:00 in Helsinki.
NOW = hel(2026, 11, 23, 10)


def slot(slot_id: int, day: int, hour: int = 9, minutes: int = 60) -> TimeSlot:
    """A slot in December 2026 (1.12.2026 is a Tuesday)."""
    return TimeSlot(slot_id, hel(2026, 12, day, hour), minutes)


def person(
    user_id: int, profession: Profession | None = NURSE, *, required: bool = False
) -> Invitee:
    return Invitee(user_id, f"Käyttäjä {user_id}", profession, required)


def make_poll(
    slots: Sequence[TimeSlot],
    invitees: Sequence[Invitee],
    votes: Mapping[int, Mapping[int, Answer]] | None = None,
    wanted: frozenset[Profession] = frozenset(),
) -> AvailabilityPoll:
    poll = AvailabilityPoll(
        id=1,
        consultation_id=42,
        team_id=3,
        created_by=100,
        slots=list(slots),
        invitees=list(invitees),
        deadline=hel(2026, 11, 30, 12),
        wanted=wanted,
    )
    for user_id, answers in (votes or {}).items():
        poll.record_vote(user_id, answers)
    return poll


def recommended_id(poll: AvailabilityPoll) -> int | None:
    best = poll.recommended()
    return None if best is None else best.slot.id


def code_of(excinfo: pytest.ExceptionInfo[DomainError]) -> str:
    return excinfo.value.code


# --- the best-slot rule -----------------------------------------------------------------


def test_required_invitees_available_beats_more_yes() -> None:
    poll = make_poll(
        [slot(1, 1), slot(2, 2)],
        [person(1, required=True), person(2, PHYSICIAN), person(3, PSYCHOLOGIST)],
        {1: {1: MAYBE, 2: NO}, 2: {1: NO, 2: YES}, 3: {1: NO, 2: YES}},
    )
    assert recommended_id(poll) == 1


def test_required_if_need_be_counts_as_available() -> None:
    poll = make_poll(
        [slot(1, 1)],
        [person(1, required=True)],
        {1: {1: MAYBE}},
    )
    best = poll.recommended()
    assert best is not None
    assert best.all_required_available


def test_wider_coverage_of_wanted_professions_beats_more_yes() -> None:
    poll = make_poll(
        [slot(1, 1), slot(2, 2)],
        [person(1, NURSE), person(2, NURSE), person(3, NURSE), person(4, PHYSICIAN)],
        {
            1: {1: YES, 2: NO},
            2: {1: YES, 2: NO},
            3: {1: YES, 2: YES},
            4: {1: NO, 2: MAYBE},
        },
        wanted=frozenset({NURSE, PHYSICIAN}),
    )
    assert recommended_id(poll) == 2


def test_coverage_counts_only_wanted_professions() -> None:
    # Slot 1 covers nurse + psychologist, slot 2 only the physician; only physician and
    # nurse are wanted, so both cover one wanted profession and the most yes decides.
    poll = make_poll(
        [slot(1, 1), slot(2, 2)],
        [person(1, NURSE), person(2, PSYCHOLOGIST), person(3, PHYSICIAN), person(4, PHYSICIAN)],
        {
            1: {1: YES, 2: NO},
            2: {1: YES, 2: NO},
            3: {1: NO, 2: YES},
            4: {1: NO, 2: YES},
        },
        wanted=frozenset({NURSE, PHYSICIAN}),
    )
    tallies = {t.slot.id: t for t in poll.tallies()}
    assert tallies[1].professions == {NURSE, PSYCHOLOGIST}
    assert tallies[2].professions == {PHYSICIAN}
    assert recommended_id(poll) == 1  # 2 yes each: tie broken by earliest
    poll.record_vote(1, {2: MAYBE})  # nurse also if-need-be for slot 2
    assert recommended_id(poll) == 2


def test_if_need_be_counts_for_coverage() -> None:
    poll = make_poll(
        [slot(1, 1), slot(2, 2)],
        [person(1, NURSE), person(2, PHYSICIAN)],
        {1: {1: YES, 2: MAYBE}, 2: {1: NO, 2: MAYBE}},
        wanted=frozenset({NURSE, PHYSICIAN}),
    )
    assert recommended_id(poll) == 2


def test_most_yes_then_most_if_need_be() -> None:
    invitees = [person(1), person(2), person(3)]
    poll = make_poll(
        [slot(1, 1), slot(2, 2), slot(3, 3)],
        invitees,
        {
            1: {1: YES, 2: YES, 3: YES},
            2: {1: MAYBE, 2: YES, 3: YES},
            3: {1: MAYBE, 2: MAYBE, 3: NO},
        },
    )
    # Slot 1: 1 yes 2 maybe; slot 2: 2 yes 1 maybe; slot 3: 2 yes 0 maybe.
    assert recommended_id(poll) == 2


def test_full_tie_goes_to_the_earliest_slot_whatever_the_order() -> None:
    poll = make_poll(
        [slot(1, 3), slot(2, 1, hour=13), slot(3, 1, hour=10)],
        [person(1)],
        {1: {1: YES, 2: YES, 3: YES}},
    )
    assert recommended_id(poll) == 3


def test_earliest_compares_instants_across_time_zones() -> None:
    # 08:30 UTC is 10:30 in Helsinki: later than the 10:00 Helsinki slot.
    poll = make_poll(
        [TimeSlot(1, datetime(2026, 12, 1, 8, 30, tzinfo=UTC), 30), slot(2, 1, hour=10)],
        [person(1)],
        {1: {1: YES, 2: YES}},
    )
    assert recommended_id(poll) == 2


def test_slot_with_a_required_no_is_never_recommended() -> None:
    poll = make_poll(
        [slot(1, 1), slot(2, 2)],
        [person(1, required=True), person(2), person(3)],
        {1: {1: NO, 2: MAYBE}, 2: {1: YES, 2: NO}, 3: {1: YES, 2: NO}},
    )
    assert recommended_id(poll) == 2


def test_no_recommendation_when_every_slot_has_a_required_no() -> None:
    poll = make_poll(
        [slot(1, 1), slot(2, 2)],
        [person(1, required=True), person(2, required=True), person(3)],
        {1: {1: NO, 2: YES}, 2: {1: YES, 2: NO}, 3: {1: YES, 2: YES}},
    )
    assert poll.recommended() is None
    tallies = {t.slot.id: t for t in poll.tallies()}
    assert tallies[1].required_no == (1,)
    assert tallies[2].required_no == (2,)


def test_no_recommendation_while_a_required_invitee_has_not_answered() -> None:
    poll = make_poll(
        [slot(1, 1), slot(2, 2)],
        [person(1, required=True), person(2, required=True)],
        {1: {1: YES, 2: YES}, 2: {1: YES}},
    )
    assert recommended_id(poll) == 1
    tallies = {t.slot.id: t for t in poll.tallies()}
    assert tallies[2].required_missing == (2,)
    assert tallies[2].required_no == ()
    fresh = make_poll([slot(1, 1)], [person(1, required=True)])
    assert fresh.recommended() is None


def test_optional_no_does_not_exclude_a_slot() -> None:
    poll = make_poll(
        [slot(1, 1)],
        [person(1, required=True), person(2), person(3)],
        {1: {1: YES}, 2: {1: NO}, 3: {1: NO}},
    )
    best = poll.recommended()
    assert best is not None
    assert best.slot.id == 1
    assert (best.yes, best.if_need_be, best.no) == (1, 0, 2)


def test_no_invitee_required_and_nobody_answered_recommends_earliest() -> None:
    poll = make_poll([slot(1, 2), slot(2, 1)], [person(1), person(2)])
    assert recommended_id(poll) == 2


# --- hypothesis: the recommendation is a best eligible slot -----------------------------

WANTABLE = [NURSE, PHYSICIAN, PSYCHOLOGIST, SOCIAL_WORKER]
PROFESSIONS: list[Profession | None] = [*WANTABLE, None]


@st.composite
def polls(draw: st.DrawFn) -> AvailabilityPoll:
    n_slots = draw(st.integers(1, 5))
    # Distinct starts, listed in random order, often on the same day.
    offsets = draw(st.lists(st.integers(0, 40), min_size=n_slots, max_size=n_slots, unique=True))
    slots = [
        TimeSlot(i + 1, hel(2026, 12, 1, 8) + timedelta(minutes=30 * o), 30)
        for i, o in enumerate(offsets)
    ]
    n_invitees = draw(st.integers(1, 6))
    invitees = [
        person(u, draw(st.sampled_from(PROFESSIONS)), required=draw(st.booleans()))
        for u in range(1, n_invitees + 1)
    ]
    wanted = frozenset(draw(st.sets(st.sampled_from(WANTABLE))))
    poll = make_poll(slots, invitees, wanted=wanted)
    answer = st.sampled_from([YES, MAYBE, NO])
    slot_ids = [i + 1 for i in range(n_slots)]
    for invitee in invitees:
        votes = draw(st.dictionaries(st.sampled_from(slot_ids), answer))
        if votes:
            poll.record_vote(invitee.user_id, votes)
    return poll


def reference_key(poll: AvailabilityPoll, s: TimeSlot) -> tuple[int, int, int, datetime] | None:
    """SPEC §2.3 computed straight from the votes; None when a required invitee is not
    available (said no or has not answered)."""
    answers = {i.user_id: poll.votes.get(i.user_id, {}).get(s.id) for i in poll.invitees}  # type: ignore[arg-type]
    available = [i for i in poll.invitees if answers[i.user_id] in (YES, MAYBE)]
    if any(i.required and i not in available for i in poll.invitees):
        return None
    covered = {i.profession for i in available if i.profession is not None}
    coverage = len(covered & poll.wanted) if poll.wanted else len(covered)
    yes = sum(1 for a in answers.values() if a is YES)
    maybe = sum(1 for a in answers.values() if a is MAYBE)
    return (-coverage, -yes, -maybe, s.start)


@settings(max_examples=300, deadline=None)
@given(polls())
def test_recommended_is_eligible_and_nothing_eligible_ranks_better(
    poll: AvailabilityPoll,
) -> None:
    best: SlotTally | None = poll.recommended()
    keys = {s.id: reference_key(poll, s) for s in poll.slots}
    eligible = {slot_id: key for slot_id, key in keys.items() if key is not None}
    if best is None:
        assert not eligible
        assert not any(t.all_required_available for t in poll.tallies())
        return
    assert best.all_required_available
    assert best.slot.id in eligible
    best_key = eligible[best.slot.id]
    assert all(not key < best_key for key in eligible.values())


# --- voting -------------------------------------------------------------------------------


def two_slot_poll() -> AvailabilityPoll:
    return make_poll([slot(1, 1), slot(2, 2)], [person(1, required=True), person(2)])


def test_vote_by_non_invitee_is_refused() -> None:
    poll = two_slot_poll()
    with pytest.raises(DomainError) as excinfo:
        poll.record_vote(99, {1: YES})
    assert code_of(excinfo) == "error.not_invited"
    assert poll.votes == {}


@pytest.mark.parametrize("answers", [{3: YES}, {1: YES, 3: NO}, {}])
def test_vote_for_unknown_slot_or_nothing_is_refused(answers: dict[int, Answer]) -> None:
    poll = two_slot_poll()
    with pytest.raises(DomainError) as excinfo:
        poll.record_vote(1, answers)
    assert code_of(excinfo) == "error.invalid_input"
    assert poll.votes == {}


@pytest.mark.parametrize("end", ["close", "finalize", "cancel"])
def test_vote_after_the_poll_closes_is_refused(end: str) -> None:
    poll = two_slot_poll()
    poll.record_vote(1, {1: YES})
    if end == "close":
        poll.close()
    elif end == "finalize":
        poll.finalize(1, override=False)
    else:
        poll.cancel()
    with pytest.raises(DomainError) as excinfo:
        poll.record_vote(1, {1: NO})
    assert code_of(excinfo) == "error.poll_closed"
    assert poll.votes[1] == {1: YES}


def test_vote_change_replaces_the_earlier_answer() -> None:
    poll = two_slot_poll()
    poll.record_vote(1, {1: YES, 2: YES})
    poll.record_vote(1, {1: NO})
    assert poll.votes[1] == {1: NO, 2: YES}
    tallies = {t.slot.id: t for t in poll.tallies()}
    assert (tallies[1].yes, tallies[1].no, tallies[1].required_no) == (0, 1, (1,))
    assert recommended_id(poll) == 2


def test_not_answered_lists_invitees_missing_any_slot() -> None:
    poll = make_poll([slot(1, 1), slot(2, 2)], [person(1), person(2), person(3)])
    assert [i.user_id for i in poll.not_answered()] == [1, 2, 3]
    poll.record_vote(1, {1: YES, 2: NO})
    poll.record_vote(2, {1: YES})
    assert [i.user_id for i in poll.not_answered()] == [2, 3]
    assert not poll.everyone_answered()
    poll.record_vote(2, {2: MAYBE})
    poll.record_vote(3, {1: NO, 2: NO})
    assert poll.not_answered() == []
    assert poll.everyone_answered()


def test_close_twice_is_refused() -> None:
    poll = two_slot_poll()
    poll.close()
    assert poll.state is PollState.CLOSED
    with pytest.raises(DomainError) as excinfo:
        poll.close()
    assert code_of(excinfo) == "error.poll_closed"


# --- finalize and cancel ------------------------------------------------------------------


def test_finalize_slot_with_required_no_needs_override() -> None:
    poll = two_slot_poll()
    poll.record_vote(1, {1: NO, 2: YES})
    with pytest.raises(DomainError) as excinfo:
        poll.finalize(1, override=False)
    assert code_of(excinfo) == "error.required_unavailable"
    assert (poll.state, poll.chosen_slot_id) == (PollState.OPEN, None)

    chosen = poll.finalize(1, override=True)
    assert chosen == slot(1, 1)
    assert poll.state is PollState.FINALIZED
    assert poll.chosen_slot_id == 1


def test_finalize_slot_with_required_missing_needs_override() -> None:
    poll = two_slot_poll()
    with pytest.raises(DomainError) as excinfo:
        poll.finalize(2, override=False)
    assert code_of(excinfo) == "error.required_unavailable"


def test_finalize_after_close_and_of_available_slot() -> None:
    poll = two_slot_poll()
    poll.record_vote(1, {2: MAYBE})
    poll.close()
    assert poll.finalize(2, override=False) == slot(2, 2)
    assert poll.state is PollState.FINALIZED
    assert poll.chosen_slot_id == 2
    assert poll.sequence == 0


def test_finalize_unknown_slot_is_refused() -> None:
    poll = two_slot_poll()
    with pytest.raises(DomainError) as excinfo:
        poll.finalize(7, override=True)
    assert code_of(excinfo) == "error.invalid_input"


@pytest.mark.parametrize("end", ["finalize", "cancel"])
def test_finalize_after_finalize_or_cancel_is_refused(end: str) -> None:
    poll = two_slot_poll()
    poll.record_vote(1, {1: YES})
    if end == "finalize":
        poll.finalize(1, override=False)
    else:
        poll.cancel()
    with pytest.raises(DomainError) as excinfo:
        poll.finalize(1, override=False)
    assert code_of(excinfo) == "error.poll_closed"


def test_cancel_increments_sequence() -> None:
    poll = two_slot_poll()
    poll.record_vote(1, {1: YES})
    poll.finalize(1, override=False)
    assert poll.sequence == 0
    poll.cancel()
    assert poll.state is PollState.CANCELLED
    assert poll.sequence == 1
    with pytest.raises(DomainError) as excinfo:
        poll.cancel()
    assert code_of(excinfo) == "error.poll_closed"
    assert poll.sequence == 1


def test_cancel_open_poll() -> None:
    poll = two_slot_poll()
    poll.cancel()
    assert poll.state is PollState.CANCELLED
    assert poll.sequence == 1


# --- validate_slots -----------------------------------------------------------------------


def validate_code(starts: list[tuple[datetime, int]]) -> str:
    with pytest.raises(DomainError) as excinfo:
        validate_slots(starts, NOW, CALENDAR)
    return code_of(excinfo)


def test_valid_slots_are_sorted_and_have_no_id() -> None:
    starts = [(hel(2026, 11, 27, 13), 90), (hel(2026, 11, 25, 9), 60), (hel(2026, 11, 26, 8), 30)]
    result = validate_slots(starts, NOW, CALENDAR)
    assert [(s.start, s.minutes) for s in result] == sorted(starts)
    assert all(s.id is None for s in result)


def test_slot_ending_exactly_at_day_end_is_accepted() -> None:
    [result] = validate_slots([(hel(2026, 11, 25, 15), 60)], NOW, CALENDAR)
    assert result.end == hel(2026, 11, 25, 16)


def test_slot_given_in_utc_is_checked_in_helsinki_time() -> None:
    # 06:00 UTC is 08:00 in Helsinki in winter.
    [result] = validate_slots([(datetime(2026, 11, 25, 6, tzinfo=UTC), 60)], NOW, CALENDAR)
    assert result.start.astimezone(HELSINKI).hour == 8
    assert validate_code([(datetime(2026, 11, 25, 5, 30, tzinfo=UTC), 30)]) == (
        "error.slot_outside_hours"
    )


@pytest.mark.parametrize(
    "start",
    [NOW, NOW - timedelta(minutes=1), hel(2026, 11, 20, 9)],
    ids=["now", "a-minute-ago", "last-friday"],
)
def test_past_slot_is_refused(start: datetime) -> None:
    assert validate_code([(start, 30)]) == "error.slot_in_past"


@pytest.mark.parametrize(
    "day",
    [hel(2026, 11, 28, 9), hel(2026, 11, 29, 9)],
    ids=["saturday", "sunday"],
)
def test_weekend_slot_is_refused(day: datetime) -> None:
    assert validate_code([(day, 60)]) == "error.slot_not_working_day"


@pytest.mark.parametrize(
    "day",
    [hel(2026, 12, 24, 9), hel(2026, 12, 25, 9), hel(2027, 1, 1, 9), hel(2027, 1, 6, 9)],
    ids=["christmas-eve-thu", "christmas-day-fri", "new-year-fri", "epiphany-wed"],
)
def test_finnish_holiday_slot_is_refused(day: datetime) -> None:
    assert validate_code([(day, 60)]) == "error.slot_not_working_day"


@pytest.mark.parametrize(
    ("start", "minutes"),
    [
        (hel(2026, 11, 25, 15, 30), 60),
        (hel(2026, 11, 25, 7, 30), 30),
        (hel(2026, 11, 25, 15, 45), 30),
        (hel(2026, 11, 25, 16), 30),
        (hel(2026, 11, 25, 7, 59), 30),
    ],
    ids=["ends-16:30", "starts-07:30", "ends-16:15", "starts-16:00", "starts-07:59"],
)
def test_slot_outside_working_hours_is_refused(start: datetime, minutes: int) -> None:
    assert validate_code([(start, minutes)]) == "error.slot_outside_hours"


@pytest.mark.parametrize("minutes", [0, 15, 50, 240, -30])
def test_unknown_duration_is_refused(minutes: int) -> None:
    assert validate_code([(hel(2026, 11, 25, 9), minutes)]) == "error.slot_duration"


def test_duplicate_slots_are_refused_even_in_another_zone() -> None:
    same = datetime(2026, 11, 25, 7, tzinfo=UTC)  # 09:00 in Helsinki
    assert validate_code([(hel(2026, 11, 25, 9), 60), (same, 30)]) == "error.duplicate_slots"


def test_no_slots_is_refused() -> None:
    assert validate_code([]) == "error.no_slots"


def test_more_than_max_slots_is_refused() -> None:
    starts = [(hel(2026, 11, 25, 8) + timedelta(minutes=30 * i), 30) for i in range(MAX_SLOTS)]
    assert len(validate_slots(starts, NOW, CALENDAR)) == MAX_SLOTS
    starts.append((hel(2026, 11, 26, 9), 30))
    with pytest.raises(DomainError) as excinfo:
        validate_slots(starts, NOW, CALENDAR)
    assert code_of(excinfo) == "error.too_many_slots"
    assert excinfo.value.params == {"limit": MAX_SLOTS}


# --- validate_deadline --------------------------------------------------------------------

SLOTS = [slot(1, 1), slot(2, 3)]


@pytest.mark.parametrize(
    ("deadline", "code"),
    [
        (NOW, "error.deadline_in_past"),
        (NOW - timedelta(hours=1), "error.deadline_in_past"),
        (hel(2026, 12, 1, 9), "error.deadline_after_slot"),  # exactly the first slot
        (hel(2026, 12, 2, 9), "error.deadline_after_slot"),
    ],
)
def test_invalid_deadline_is_refused(deadline: datetime, code: str) -> None:
    with pytest.raises(DomainError) as excinfo:
        validate_deadline(deadline, SLOTS, NOW)
    assert code_of(excinfo) == code


def test_deadline_between_now_and_first_slot_is_accepted() -> None:
    deadline = hel(2026, 11, 30, 12)
    assert validate_deadline(deadline, list(reversed(SLOTS)), NOW) == deadline


# --- suggest_slots ------------------------------------------------------------------------


def test_suggestions_skip_holidays() -> None:
    # Mon 21.12.2026; regular Thursdays 9:00 -> Christmas Eve (Thu) is skipped.
    now = hel(2026, 12, 21, 10)
    found = suggest_slots(now, CALENDAR, [(3, 9, 0)], count=3)
    assert found == [hel(2026, 12, 31, 9), hel(2027, 1, 7, 9), hel(2027, 1, 14, 9)]


def test_suggestions_skip_epiphany_and_keep_order_across_weekdays() -> None:
    # Wed 30.12.2026; regular Wed 13:00 and Mon 9:30 (listed out of order).
    now = hel(2026, 12, 30, 10)
    found = suggest_slots(now, CALENDAR, [(2, 13, 0), (0, 9, 30)], count=3)
    assert found == [hel(2027, 1, 4, 9, 30), hel(2027, 1, 11, 9, 30), hel(2027, 1, 13, 13)]


def test_suggestions_never_on_weekends() -> None:
    now = hel(2026, 11, 23, 10)
    assert suggest_slots(now, CALENDAR, [(5, 10, 0), (6, 10, 0)], count=3) == []
    found = suggest_slots(now, CALENDAR, [(5, 10, 0), (4, 10, 0)], count=2)
    assert found == [hel(2026, 11, 27, 10), hel(2026, 12, 4, 10)]


def test_suggestions_are_future_working_moments() -> None:
    now = hel(2026, 11, 23, 10)
    regular = [(0, 9, 0), (0, 11, 0), (2, 8, 0), (4, 15, 0)]
    found = suggest_slots(now, CALENDAR, regular, count=8)
    assert len(found) == 8
    assert found == sorted(found)
    for start in found:
        assert start > now
        assert start.tzinfo is not None
        local = start.astimezone(HELSINKI)
        assert CALENDAR.is_working_moment(local)
        assert (local.weekday(), local.hour, local.minute) in regular


def test_suggestions_from_utc_now_late_in_the_evening() -> None:
    # 22:30 UTC on Tue 24.11.2026 is already Wednesday 00:30 in Helsinki.
    now = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
    found = suggest_slots(now, CALENDAR, [(2, 9, 0), (3, 9, 0)], count=2)
    assert all(start > now for start in found)
    assert found[0].astimezone(HELSINKI).date() > now.astimezone(HELSINKI).date()


def test_suggestions_respect_count_and_horizon() -> None:
    now = hel(2026, 11, 23, 10)
    assert len(suggest_slots(now, CALENDAR, [(1, 9, 0)], count=2)) == 2
    # Only Tuesdays within 7 days: exactly one.
    assert suggest_slots(now, CALENDAR, [(1, 9, 0)], count=5, horizon_days=7) == [
        hel(2026, 11, 24, 9)
    ]
