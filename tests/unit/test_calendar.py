"""Behaviour of business time: office hours, Finnish holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consultations.calendar import BusinessCalendar

HELSINKI = ZoneInfo("Europe/Helsinki")
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2024, 2036)).keys())
)


def hel(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI)


moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - hypothesis bounds must be naive
    max_value=datetime(2035, 6, 30),  # noqa: DTZ001
    timezones=st.sampled_from([HELSINKI, UTC, ZoneInfo("America/New_York")]),
)


# --- working days -----------------------------------------------------------


def test_ordinary_weekday_is_a_working_day() -> None:
    assert CALENDAR.is_working_day(date(2026, 3, 4))  # Wednesday


@pytest.mark.parametrize("d", [date(2026, 3, 7), date(2026, 3, 8)])
def test_weekend_is_not_a_working_day(d: date) -> None:
    assert not CALENDAR.is_working_day(d)


@pytest.mark.parametrize(
    "d",
    [
        pytest.param(date(2026, 1, 1), id="new-years-day"),
        pytest.param(date(2026, 1, 6), id="epiphany"),
        pytest.param(date(2026, 4, 3), id="good-friday"),
        pytest.param(date(2026, 4, 6), id="easter-monday"),
        pytest.param(date(2026, 5, 1), id="may-day"),
        pytest.param(date(2026, 5, 14), id="ascension-day"),
        pytest.param(date(2026, 6, 19), id="midsummer-eve"),
        pytest.param(date(2026, 12, 24), id="christmas-eve"),
        pytest.param(date(2026, 12, 25), id="christmas-day"),
        pytest.param(date(2024, 12, 6), id="independence-day-on-a-friday"),
    ],
)
def test_finnish_public_holiday_on_a_weekday_is_not_a_working_day(d: date) -> None:
    assert d.weekday() < 5
    assert not CALENDAR.is_working_day(d)


def test_midsummer_day_2026_falls_on_a_saturday_and_is_not_a_working_day() -> None:
    assert date(2026, 6, 20).weekday() == 5
    assert not CALENDAR.is_working_day(date(2026, 6, 20))


def test_day_without_a_listed_holiday_is_a_working_day_in_a_bare_calendar() -> None:
    bare = BusinessCalendar(holidays=frozenset())
    assert bare.is_working_day(date(2026, 12, 24))


# --- working moments --------------------------------------------------------


def test_last_second_before_four_pm_is_working_time() -> None:
    assert CALENDAR.is_working_moment(hel(2026, 3, 4, 15, 59).replace(second=59))


def test_four_pm_sharp_is_not_working_time() -> None:
    assert not CALENDAR.is_working_moment(hel(2026, 3, 4, 16))


def test_eight_am_sharp_is_working_time() -> None:
    assert CALENDAR.is_working_moment(hel(2026, 3, 4, 8))


def test_moment_before_eight_am_is_not_working_time() -> None:
    assert not CALENDAR.is_working_moment(hel(2026, 3, 4, 7, 59).replace(second=59))


def test_working_moment_is_judged_in_helsinki_time_not_in_the_given_zone() -> None:
    # 06:30 UTC is 08:30 in Helsinki in winter.
    assert CALENDAR.is_working_moment(datetime(2026, 3, 4, 6, 30, tzinfo=UTC))
    # 14:30 UTC is 16:30 in Helsinki in winter.
    assert not CALENDAR.is_working_moment(datetime(2026, 3, 4, 14, 30, tzinfo=UTC))


def test_naive_datetime_is_rejected() -> None:
    naive = hel(2026, 3, 4, 10).replace(tzinfo=None)
    with pytest.raises(ValueError, match="aware"):
        CALENDAR.is_working_moment(naive)
    with pytest.raises(ValueError, match="aware"):
        CALENDAR.next_working_moment(naive)


# --- next working moment (reminder delivery) --------------------------------


def test_reminder_due_during_office_hours_is_delivered_at_once() -> None:
    due = hel(2026, 3, 4, 10, 17)
    assert CALENDAR.next_working_moment(due) == due


def test_reminder_due_early_in_the_morning_waits_for_eight_the_same_day() -> None:
    assert CALENDAR.next_working_moment(hel(2026, 3, 4, 6)) == hel(2026, 3, 4, 8)


def test_reminder_due_at_four_pm_waits_for_next_morning() -> None:
    assert CALENDAR.next_working_moment(hel(2026, 3, 4, 16)) == hel(2026, 3, 5, 8)


def test_reminder_due_on_friday_evening_waits_for_monday_morning() -> None:
    assert CALENDAR.next_working_moment(hel(2026, 3, 6, 18)) == hel(2026, 3, 9, 8)


def test_reminder_due_on_christmas_eve_waits_for_next_working_morning() -> None:
    # Thu 24, Fri 25 and Sat 26 Dec 2026 are holidays, then a Sunday.
    assert CALENDAR.next_working_moment(hel(2026, 12, 24, 10)) == hel(2026, 12, 28, 8)


def test_reminder_due_on_midsummer_eve_waits_until_monday() -> None:
    assert CALENDAR.next_working_moment(hel(2026, 6, 19, 9)) == hel(2026, 6, 22, 8)


def test_reminder_due_before_easter_waits_until_the_tuesday_after() -> None:
    # Good Friday 3 Apr and Easter Monday 6 Apr 2026.
    assert CALENDAR.next_working_moment(hel(2026, 4, 2, 16)) == hel(2026, 4, 7, 8)


def test_reminder_due_on_new_years_eve_evening_waits_for_second_of_january() -> None:
    assert CALENDAR.next_working_moment(hel(2025, 12, 31, 17)) == hel(2026, 1, 2, 8)


def test_reminder_due_on_epiphany_waits_for_the_next_day() -> None:
    assert CALENDAR.next_working_moment(hel(2026, 1, 6, 12)) == hel(2026, 1, 7, 8)


def test_reminder_due_on_ascension_day_waits_for_friday() -> None:
    assert CALENDAR.next_working_moment(hel(2026, 5, 14, 12)) == hel(2026, 5, 15, 8)


def test_reminder_due_before_may_day_weekend_waits_until_monday() -> None:
    assert CALENDAR.next_working_moment(hel(2026, 4, 30, 16)) == hel(2026, 5, 4, 8)


def test_reminder_due_on_independence_day_waits_for_monday() -> None:
    # 6 Dec 2024 was a Friday.
    assert CALENDAR.next_working_moment(hel(2024, 12, 6, 9)) == hel(2024, 12, 9, 8)


def test_delivery_time_is_expressed_in_helsinki_time() -> None:
    result = CALENDAR.next_working_moment(datetime(2026, 3, 4, 7, 0, tzinfo=UTC))
    assert result.tzinfo is HELSINKI
    assert (result.hour, result.minute) == (9, 0)


def test_reminder_due_in_the_spring_forward_gap_waits_for_monday_summer_time() -> None:
    # 03:30 on 29 Mar 2026 does not exist in Helsinki; it is a Sunday anyway.
    result = CALENDAR.next_working_moment(hel(2026, 3, 29, 3, 30))
    assert result == hel(2026, 3, 30, 8)
    assert result.utcoffset() == timedelta(hours=3)


def test_reminder_due_in_the_repeated_fall_back_hour_is_delivered_monday() -> None:
    result = CALENDAR.next_working_moment(hel(2026, 10, 25, 3, 30).replace(fold=1))
    assert result == hel(2026, 10, 26, 8)
    assert result.utcoffset() == timedelta(hours=2)


@given(moments)
def test_next_working_moment_is_a_working_moment_not_before_t(t: datetime) -> None:
    result = CALENDAR.next_working_moment(t)
    assert CALENDAR.is_working_moment(result)
    # Compared in UTC: same-zone comparison would look at wall times only.
    assert result.astimezone(UTC) >= t.astimezone(UTC)
    assert result.tzinfo is HELSINKI


@given(moments)
def test_next_working_moment_is_idempotent(t: datetime) -> None:
    once = CALENDAR.next_working_moment(t)
    assert CALENDAR.next_working_moment(once) == once


@given(moments)
def test_no_office_opening_is_skipped_before_the_next_working_moment(
    t: datetime,
) -> None:
    result = CALENDAR.next_working_moment(t)
    if result != t:
        # Anything moved must land on an opening time, and every day strictly
        # between t and the result must be a non-working day.
        assert result.time() == time(8)
        d = t.astimezone(HELSINKI).date() + timedelta(days=1)
        while d < result.date():
            assert not CALENDAR.is_working_day(d)
            d += timedelta(days=1)


# --- adding working days ----------------------------------------------------


def test_one_working_day_after_friday_morning_is_monday_morning() -> None:
    assert CALENDAR.add_working_days(hel(2026, 3, 6, 10), 1) == hel(2026, 3, 9, 10)


def test_one_working_day_after_friday_evening_is_tuesday_opening() -> None:
    # Friday 17:00 is first normalised to Monday 08:00.
    assert CALENDAR.add_working_days(hel(2026, 3, 6, 17), 1) == hel(2026, 3, 10, 8)


def test_zero_working_days_is_the_next_working_moment() -> None:
    assert CALENDAR.add_working_days(hel(2026, 3, 7, 12), 0) == hel(2026, 3, 9, 8)
    assert CALENDAR.add_working_days(hel(2026, 3, 4, 12), 0) == hel(2026, 3, 4, 12)


def test_negative_working_days_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        CALENDAR.add_working_days(hel(2026, 3, 4, 12), -1)


def test_deadline_set_before_christmas_skips_the_holidays() -> None:
    assert CALENDAR.add_working_days(hel(2026, 12, 23, 12), 1) == hel(2026, 12, 28, 12)


def test_five_working_days_over_easter_take_a_week_and_two_days() -> None:
    # Wed 1 Apr 2026 + 5: Thu 2, Tue 7, Wed 8, Thu 9, Fri 10.
    assert CALENDAR.add_working_days(hel(2026, 4, 1, 9), 5) == hel(2026, 4, 10, 9)


def test_deadline_over_midsummer_skips_midsummer_eve() -> None:
    assert CALENDAR.add_working_days(hel(2026, 6, 18, 14), 1) == hel(2026, 6, 22, 14)


def test_working_day_over_spring_forward_keeps_the_wall_clock_time() -> None:
    result = CALENDAR.add_working_days(hel(2026, 3, 27, 15), 1)
    assert result == hel(2026, 3, 30, 15)
    assert (result.hour, result.minute) == (15, 0)
    assert result.utcoffset() == timedelta(hours=3)
    # Subtracting in UTC because same-zone subtraction ignores the offsets;
    # the weekend of the DST change is one hour shorter in real time.
    elapsed = result.astimezone(UTC) - hel(2026, 3, 27, 15).astimezone(UTC)
    assert elapsed == timedelta(hours=71)


def test_working_day_over_fall_back_keeps_the_wall_clock_time() -> None:
    start = hel(2026, 10, 23, 9)
    result = CALENDAR.add_working_days(start, 1)
    assert (result.date(), result.hour) == (date(2026, 10, 26), 9)
    assert start.utcoffset() == timedelta(hours=3)
    assert result.utcoffset() == timedelta(hours=2)
    assert result.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=73)


def test_working_days_are_counted_in_helsinki_time_for_utc_input() -> None:
    # 22:30 UTC on Friday 6 Mar 2026 is already Saturday 00:30 in Helsinki.
    result = CALENDAR.add_working_days(datetime(2026, 3, 6, 22, 30, tzinfo=UTC), 1)
    assert result == hel(2026, 3, 10, 8)


@given(moments, st.integers(min_value=0, max_value=40))
def test_adding_n_working_days_elapses_exactly_n_working_days(t: datetime, n: int) -> None:
    start = CALENDAR.next_working_moment(t)
    result = CALENDAR.add_working_days(t, n)
    assert CALENDAR.is_working_moment(result)
    assert result.time() == start.time()
    assert CALENDAR.working_days_between(start, result) == n


@given(moments, st.integers(0, 20), st.integers(0, 20))
def test_adding_working_days_in_two_steps_equals_adding_them_at_once(
    t: datetime, a: int, b: int
) -> None:
    in_two_steps = CALENDAR.add_working_days(CALENDAR.add_working_days(t, a), b)
    assert in_two_steps == CALENDAR.add_working_days(t, a + b)


# --- elapsed working days ---------------------------------------------------


def test_no_working_days_have_elapsed_within_the_same_day() -> None:
    assert CALENDAR.working_days_between(hel(2026, 3, 4, 8), hel(2026, 3, 4, 23)) == 0


def test_one_working_day_has_elapsed_from_friday_to_monday() -> None:
    assert CALENDAR.working_days_between(hel(2026, 3, 6, 15), hel(2026, 3, 9, 9)) == 1


def test_weekend_days_do_not_count_as_waiting_time() -> None:
    assert CALENDAR.working_days_between(hel(2026, 3, 6, 15), hel(2026, 3, 8, 9)) == 0


def test_christmas_week_counts_only_the_working_days() -> None:
    # Mon 21 Dec -> Mon 28 Dec 2026: Tue 22, Wed 23 and Mon 28 count.
    start, end = hel(2026, 12, 21, 10), hel(2026, 12, 28, 10)
    assert CALENDAR.working_days_between(start, end) == 3


def test_end_before_start_means_no_working_days_have_elapsed() -> None:
    assert CALENDAR.working_days_between(hel(2026, 3, 9), hel(2026, 3, 2)) == 0


def test_elapsed_days_use_helsinki_dates_for_utc_input() -> None:
    # 22:30 UTC on Monday 2 Mar 2026 is Tuesday 00:30 in Helsinki.
    start = hel(2026, 3, 2, 10)
    end = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)
    assert CALENDAR.working_days_between(start, end) == 1


@given(start=moments, now=moments, n=st.integers(min_value=1, max_value=12))
def test_the_waiting_cutoff_agrees_with_counting_working_days(
    start: datetime, now: datetime, n: int
) -> None:
    # What a database counts as overdue (submitted before the cutoff) is what the card
    # marks as overdue (working days counted one by one).
    cutoff = CALENDAR.waited_since_before(now, n)
    assert (CALENDAR.working_days_between(start, now) >= n) == (start < cutoff)


def test_on_a_monday_two_working_days_of_waiting_began_before_friday() -> None:
    # Mon 9 Mar 2026: Fri 6 and Mon 9 are the two working days counted back.
    assert CALENDAR.waited_since_before(hel(2026, 3, 9, 10), 2) == hel(2026, 3, 6)


# --- construction -----------------------------------------------------------


def test_calendar_defaults_to_helsinki_office_hours_on_weekdays() -> None:
    cal = BusinessCalendar(holidays=frozenset())
    assert cal.tz == HELSINKI
    assert (cal.day_start, cal.day_end) == (time(8), time(16))
    assert cal.workdays == frozenset(range(5))


def test_calendar_without_workdays_is_rejected() -> None:
    with pytest.raises(ValueError, match="workdays"):
        BusinessCalendar(holidays=frozenset(), workdays=frozenset())


def test_calendar_whose_day_ends_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="day_start"):
        BusinessCalendar(holidays=frozenset(), day_start=time(16), day_end=time(8))
