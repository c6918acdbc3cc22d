"""The report's domain rules: periods, the small-number rule, working days, percentiles."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consultations.calendar import BusinessCalendar
from consultations.errors import DomainError
from consultations.reports import (
    SUPPRESSED,
    OwnerType,
    Period,
    PeriodKind,
    Suppressed,
    WorkingDayIndex,
    count,
    nearest_rank,
    ratio,
)
from consultations.summary import OutsideParty

HELSINKI = ZoneInfo("Europe/Helsinki")
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2025, 2029)).keys())
)


@pytest.mark.parametrize(
    ("kind", "start", "end"),
    [
        (PeriodKind.THIS_MONTH, date(2026, 11, 1), date(2026, 11, 30)),
        (PeriodKind.LAST_MONTH, date(2026, 10, 1), date(2026, 10, 31)),
        (PeriodKind.THIS_QUARTER, date(2026, 10, 1), date(2026, 12, 31)),
        (PeriodKind.THIS_YEAR, date(2026, 1, 1), date(2026, 12, 31)),
        (PeriodKind.LAST_12_MONTHS, date(2025, 12, 1), date(2026, 11, 30)),
    ],
)
def test_each_period_choice_means_whole_helsinki_months(
    kind: PeriodKind, start: date, end: date
) -> None:
    period = Period.of(kind, date(2026, 11, 30))
    assert (period.start, period.end) == (start, end)
    assert period.months()[0] == start.replace(day=1) and period.months()[-1] == end.replace(day=1)
    first, after = period.bounds(HELSINKI)
    assert first == datetime.combine(start, time(), tzinfo=HELSINKI)
    assert after == datetime.combine(end + timedelta(days=1), time(), tzinfo=HELSINKI)


def test_last_month_in_january_is_last_december() -> None:
    period = Period.of(PeriodKind.LAST_MONTH, date(2027, 1, 15))
    assert (period.start, period.end) == (date(2026, 12, 1), date(2026, 12, 31))
    assert len(Period.of(PeriodKind.LAST_12_MONTHS, date(2027, 1, 15)).months()) == 12


def test_two_dates_are_checked() -> None:
    today = date(2026, 11, 30)
    custom = Period.of(PeriodKind.CUSTOM, today, date(2026, 2, 15), date(2026, 3, 1))
    assert custom.months() == (date(2026, 2, 1), date(2026, 3, 1))
    for start, end, code in [
        (None, date(2026, 3, 1), "error.report_dates_missing"),
        (date(2026, 3, 2), date(2026, 3, 1), "error.report_dates_order"),
        (date(2022, 1, 1), date(2026, 3, 1), "error.report_period_too_long"),
    ]:
        with pytest.raises(DomainError) as refused:
            Period.of(PeriodKind.CUSTOM, today, start, end)
        assert refused.value.code == code


@given(st.integers(0, 10_000))
def test_a_count_under_five_keeps_no_number(n: int) -> None:
    shown = count(n)
    if n < 5:
        assert shown is SUPPRESSED and str(shown) == "< 5" and Suppressed() is SUPPRESSED
    else:
        assert shown == n


@given(st.integers(0, 100), st.integers(0, 100))
def test_a_share_needs_five_on_each_side(part: int, whole: int) -> None:
    shown = ratio(part, whole)
    if part < 5 or whole < 5:
        assert shown is SUPPRESSED
    else:
        assert shown == part / whole


@given(st.dates(date(2025, 1, 1), date(2028, 6, 30)), st.integers(0, 400))
def test_the_working_day_index_agrees_with_the_calendar(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    index = WorkingDayIndex(CALENDAR, [start, end])
    at = datetime.combine(start, time(13), tzinfo=HELSINKI)
    until = datetime.combine(end, time(9), tzinfo=HELSINKI)
    assert index.between(start, end) == CALENDAR.working_days_between(at, until)
    assert index.between(end, start) == 0 or span == 0


@given(st.lists(st.integers(0, 60), min_size=1, max_size=80), st.sampled_from([50, 90]))
def test_nearest_rank_is_the_sorted_value_at_the_rank(values: list[int], percent: int) -> None:
    histogram: dict[int, int] = {}
    for value in values:
        histogram[value] = histogram.get(value, 0) + 1
    ordered = sorted(values)
    assert nearest_rank(histogram, percent) == ordered[math.ceil(len(values) * percent / 100) - 1]


def test_owner_types_are_the_team_and_every_outside_party() -> None:
    assert [o.value for o in OwnerType] == ["team_member", *[p.value for p in OutsideParty]]
