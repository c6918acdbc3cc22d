"""The meeting summary's rules (SPEC §2.4–§2.6): versions, recommendation statuses, due
and escalation times in business time, hand-over states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from itertools import product
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consultations.calendar import BusinessCalendar
from consultations.casework import morning
from consultations.errors import DomainError, IdentityCodeRefused, InvalidInput
from consultations.recommendations import due_reminder_at, escalation_at
from consultations.summary import (
    MAX_RECOMMENDATIONS,
    REC_TRANSITIONS,
    HandOver,
    HandOverState,
    MeetingSummary,
    NotImplementedReason,
    OutsideParty,
    Owner,
    PlannedRecommendation,
    Recommendation,
    RecommendationStatus,
    SummaryState,
    check_future_date,
    clean_text,
    parse_rating,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2026, 2029)).keys())
)
NOW = datetime(2026, 11, 26, 14, 1, tzinfo=HELSINKI)
TODAY = NOW.date()
RS = RecommendationStatus


def draft(**changes: object) -> MeetingSummary:
    summary = MeetingSummary(
        id=7,
        consultation_id=1,
        poll_id=3,
        round=1,
        version=1,
        created_by=10,
        attendees=(11, 12),
        client_attended=True,
        findings="Osa-aikatyö onnistuu.",
        recommendations=(
            PlannedRecommendation("Lähete", Owner(user_id=11), date(2026, 12, 3)),
            PlannedRecommendation("Kela-hakemus", Owner(party=OutsideParty.KELA), TODAY),
        ),
        case_manager_id=12,
        review_date=date(2027, 1, 15),
    )
    return replace(summary, **changes)  # type: ignore[arg-type]


def recommendation(status: RecommendationStatus = RS.OPEN) -> Recommendation:
    return Recommendation(
        id=5,
        consultation_id=1,
        summary_id=7,
        text="Lähete",
        owner=Owner(user_id=11),
        due=date(2026, 12, 3),
        status=status,
    )


# --- the summary and its versions ------------------------------------------------------------


def test_a_complete_draft_has_no_problems() -> None:
    assert draft().problems(TODAY, frozenset({11, 12, 20})) == []


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"attendees": ()}, "error.summary_no_attendees"),
        ({"client_attended": None}, "error.summary_client_attended"),
        ({"findings": "  "}, "error.summary_no_findings"),
        ({"case_manager_id": None}, "error.summary_case_manager"),
        # Not present and not the requester: against the rule of thumb of SPEC §1.
        ({"case_manager_id": 99}, "error.summary_case_manager"),
        ({"review_date": None}, "error.summary_review_date"),
        ({"review_date": date(2026, 11, 25)}, "error.summary_review_date"),
        (
            {
                "recommendations": (
                    PlannedRecommendation("Myöhässä", Owner(user_id=11), date(2026, 11, 25)),
                )
            },
            "error.due_date",
        ),
    ],
)
def test_what_keeps_a_draft_from_being_published(changes: dict[str, object], code: str) -> None:
    assert draft(**changes).problems(TODAY, frozenset({11, 12, 20})) == [code]


def test_an_amendment_may_keep_a_line_whose_due_date_has_passed() -> None:
    kept = PlannedRecommendation("Lähete", Owner(user_id=11), date(2026, 11, 20), 5)
    assert draft(recommendations=(kept,)).problems(TODAY, frozenset({12})) == []


def test_a_published_version_is_amended_by_a_new_version_never_in_place() -> None:
    summary = draft()
    summary.publish(10, NOW)
    assert summary.state is SummaryState.PUBLISHED and summary.published_by == 10
    with pytest.raises(DomainError) as error:
        summary.publish(10, NOW)
    assert error.value.code == "error.summary_published_already"

    amended = summary.amendment(13)
    assert (amended.id, amended.version, amended.state) == (None, 2, SummaryState.DRAFT)
    assert (amended.created_by, amended.published_by, amended.published_at) == (13, None, None)
    assert amended.recommendations == summary.recommendations
    # The published version is untouched by the amendment.
    assert (summary.version, summary.state, summary.id) == (1, SummaryState.PUBLISHED, 7)


def test_only_a_published_version_can_be_amended() -> None:
    with pytest.raises(DomainError) as error:
        draft().amendment(10)
    assert error.value.code == "error.summary_not_published"


def test_recommendations_are_added_one_by_one_up_to_the_limit_and_removed_by_position() -> None:
    summary = draft(recommendations=())
    line = PlannedRecommendation("Suositus", Owner(user_id=11), TODAY)
    for _ in range(MAX_RECOMMENDATIONS):
        summary = summary.with_recommendation(line)
    with pytest.raises(DomainError) as error:
        summary.with_recommendation(line)
    assert error.value.code == "error.too_many_recommendations"
    assert len(summary.without_recommendation(0).recommendations) == MAX_RECOMMENDATIONS - 1
    for index in (-1, MAX_RECOMMENDATIONS):
        with pytest.raises(InvalidInput):
            summary.without_recommendation(index)


# --- recommendation status rules -------------------------------------------------------------


@pytest.mark.parametrize(("start", "target"), list(product(RS, RS)))
def test_every_status_pair_is_allowed_or_refused_without_change(
    start: RecommendationStatus, target: RecommendationStatus
) -> None:
    item = recommendation(start)
    allowed = target in REC_TRANSITIONS[start]
    try:
        item.change(
            target,
            11,
            NOW,
            reason="Ei resursseja",
            category=NotImplementedReason.SERVICE_UNAVAILABLE,
            due=date(2026, 12, 18),
        )
    except DomainError as error:
        assert not allowed and error.code == "error.recommendation_closed"
        assert item.status is start and item.history == []
    else:
        assert allowed
        assert item.status is target
        assert item.history[-1].from_status is start and item.history[-1].to_status is target


def test_not_implemented_needs_a_reason_and_its_category_and_in_progress_a_new_date() -> None:
    item = recommendation()
    with pytest.raises(DomainError) as error:
        item.change(RS.NOT_IMPLEMENTED, 11, NOW, reason=" ", category=NotImplementedReason.OTHER)
    assert error.value.code == "error.reason_missing"
    with pytest.raises(DomainError) as error:
        item.change(RS.NOT_IMPLEMENTED, 11, NOW, reason="Asiakas muutti")
    assert error.value.code == "error.reason_category_missing"
    with pytest.raises(DomainError) as error:
        item.change(RS.IN_PROGRESS, 11, NOW)
    assert error.value.code == "error.due_date"
    assert item.status is RS.OPEN and item.history == []

    item.change(RS.IN_PROGRESS, 11, NOW, due=date(2026, 12, 18))
    item.change(
        RS.NOT_IMPLEMENTED,
        12,
        NOW,
        reason="Asiakas muutti",
        category=NotImplementedReason.SITUATION_CHANGED,
    )
    assert item.due == date(2026, 12, 18) and item.reason == "Asiakas muutti"
    assert item.reason_category is NotImplementedReason.SITUATION_CHANGED
    assert [(c.to_status, c.actor_user_id) for c in item.history] == [
        (RS.IN_PROGRESS, 11),
        (RS.NOT_IMPLEMENTED, 12),
    ]
    assert not item.active and not item.overdue(date(2027, 1, 1))


def test_an_amendment_changes_only_an_active_recommendation() -> None:
    item = recommendation()
    assert item.amend("Uusi teksti", Owner(party=OutsideParty.KELA), date(2027, 1, 8))
    assert (item.text, item.owner.party, item.due) == (
        "Uusi teksti",
        OutsideParty.KELA,
        date(2027, 1, 8),
    )
    assert not item.amend("Uusi teksti", Owner(party=OutsideParty.KELA), date(2027, 1, 8))
    done = recommendation(RS.DONE)
    assert not done.amend("Muuta", Owner(user_id=12), date(2027, 1, 8))
    assert done.text == "Lähete"


def test_overdue_means_active_and_past_its_due_date() -> None:
    item = recommendation()
    assert not item.overdue(date(2026, 12, 3)) and item.overdue(date(2026, 12, 4))


# --- due and escalation times in business time -----------------------------------------------


def hel(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=HELSINKI)


@pytest.mark.parametrize(
    ("due", "reminder", "escalation"),
    [
        # An ordinary Thursday: 08:00 that day, the next Thursday 08:00.
        (date(2026, 12, 3), hel(2026, 12, 3, 8), hel(2026, 12, 10, 8)),
        # Independence Day (Sunday 6.12.2026) and a Saturday wait for Monday.
        (date(2026, 12, 5), hel(2026, 12, 7, 8), hel(2026, 12, 14, 8)),
        # Christmas: 24-26.12 are holidays, so five working days from 18.12 end on 29.12.
        (date(2026, 12, 18), hel(2026, 12, 18, 8), hel(2026, 12, 29, 8)),
        # Due on Christmas Eve: the reminder waits for Monday 28.12.
        (date(2026, 12, 24), hel(2026, 12, 28, 8), hel(2027, 1, 5, 8)),
    ],
)
def test_due_reminders_and_escalations_fall_on_working_mornings(
    due: date, reminder: datetime, escalation: datetime
) -> None:
    item = replace(recommendation(), due=due)
    assert due_reminder_at(item, CALENDAR) == reminder
    assert escalation_at(item, CALENDAR) == escalation


@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)))
def test_a_date_reminder_is_never_outside_working_time_nor_before_its_day(day: date) -> None:
    moment = morning(day, CALENDAR)
    assert CALENDAR.is_working_moment(moment)
    assert moment.astimezone(HELSINKI).date() >= day
    assert moment.astimezone(UTC) >= datetime(day.year, day.month, day.day, tzinfo=HELSINKI)


# --- hand-over states ------------------------------------------------------------------------


def handover() -> HandOver:
    return HandOver(1, 1, from_user_id=12, to_user_id=11, note="Jatka", proposed_at=NOW)


def test_only_the_successor_answers_a_hand_over_and_only_once() -> None:
    proposed = handover()
    for stranger in (12, 99):
        with pytest.raises(DomainError) as error:
            proposed.answer(stranger, True, NOW)
        assert error.value.code == "error.not_successor"
    assert proposed.state is HandOverState.PROPOSED
    proposed.answer(11, False, NOW, "Lomalla")
    assert (proposed.state, proposed.reason) == (HandOverState.DECLINED, "Lomalla")
    for accept in (True, False):
        with pytest.raises(DomainError) as error:
            proposed.answer(11, accept, NOW)
        assert error.value.code == "error.handover_answered"
    with pytest.raises(DomainError):
        proposed.cancel(NOW)


def test_an_accepted_hand_over_cannot_be_cancelled_but_a_waiting_one_can() -> None:
    accepted = handover()
    accepted.answer(11, True, NOW)
    assert accepted.state is HandOverState.ACCEPTED and accepted.answered_at == NOW
    with pytest.raises(DomainError):
        accepted.cancel(NOW)
    waiting = handover()
    waiting.cancel(NOW)
    assert waiting.state is HandOverState.CANCELLED


# --- untrusted card input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", ["user:0", "user:-1", "user:x", "party:ufo", "kela", "", 5, None, "user:99999999999"]
)
def test_a_tampered_owner_choice_is_refused(token: object) -> None:
    with pytest.raises(InvalidInput):
        Owner.parse(token)


@given(
    st.one_of(
        st.integers(1, 2**31 - 1).map(lambda n: Owner(user_id=n)),
        st.sampled_from(OutsideParty).map(lambda p: Owner(party=p)),
    )
)
def test_an_owner_survives_its_card_token(owner: Owner) -> None:
    assert Owner.parse(owner.token) == owner


def test_free_text_is_checked_for_type_length_and_identity_codes() -> None:
    assert clean_text("  Teksti  ", 10) == "Teksti"
    with pytest.raises(InvalidInput):
        clean_text(["lista"], 10)
    with pytest.raises(DomainError) as error:
        clean_text("x" * 11, 10)
    assert error.value.code == "error.field_too_long"
    with pytest.raises(IdentityCodeRefused):
        clean_text("Asiakas 131052-308T", 100)
    with pytest.raises(DomainError) as error:
        clean_text("", 10, required_code="error.reason_missing")
    assert error.value.code == "error.reason_missing"


@pytest.mark.parametrize("value", ["0", "6", "x", "", "3.5", True])
def test_a_rating_is_one_to_five(value: object) -> None:
    with pytest.raises(DomainError):
        parse_rating(value)


def test_dates_are_from_today_to_two_years_ahead() -> None:
    assert check_future_date(TODAY, TODAY, "error.due_date") == TODAY
    for bad in (date(2026, 11, 25), date(2028, 12, 1)):
        with pytest.raises(DomainError):
            check_future_date(bad, TODAY, "error.due_date")
