"""Dates and times as each language writes them: one style per language, from CLDR."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import Texts

HELSINKI = ZoneInfo("Europe/Helsinki")
MOMENT = datetime(2027, 1, 15, 13, 0, tzinfo=HELSINKI)


@pytest.mark.parametrize(
    ("language", "day", "moment", "clock"),
    [
        ("fi", "15.1.2027", "15.1.2027 klo 13.00", "13.00"),
        ("sv", "15.1.2027", "15.1.2027 kl. 13.00", "13.00"),
        ("en", "15 Jan 2027", "15 Jan 2027, 13:00", "13:00"),
    ],
)
def test_a_date_a_moment_and_a_time_in_each_language(
    language: str, day: str, moment: str, clock: str
) -> None:
    t = Texts(language)
    assert t.date(date(2027, 1, 15)) == day
    assert t.date(MOMENT) == day
    assert t.datetime(MOMENT) == moment
    # Stored in UTC, shown in Helsinki time.
    assert t.datetime(MOMENT.astimezone(ZoneInfo("UTC"))) == moment
    assert t.time(MOMENT) == clock


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("fi", "ti 1.12. klo 13.00–14.00"),
        ("sv", "tis 1.12 kl. 13.00–14.00"),
        ("en", "Tue 1 Dec, 13:00–14:00"),
    ],
)
def test_a_meeting_time_has_its_weekday_and_hours(language: str, shown: str) -> None:
    start = datetime(2026, 12, 1, 13, 0, tzinfo=HELSINKI)
    assert Texts(language).span(start, start.replace(hour=14)) == shown


def test_a_meeting_past_midnight_names_both_days() -> None:
    start = datetime(2026, 12, 1, 23, 30, tzinfo=HELSINKI)
    end = datetime(2026, 12, 2, 0, 30, tzinfo=HELSINKI)
    assert Texts("fi").span(start, end) == "ti 1.12. klo 23.30 – 2.12.2026 klo 0.30"


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("fi", "ti 1.12. klo 12.00"),
        ("sv", "tis 1.12 kl. 12.00"),
        ("en", "Tue 1 Dec, 12:00"),
    ],
)
def test_a_moment_beside_meeting_times_is_written_like_them(language: str, shown: str) -> None:
    deadline = datetime(2026, 12, 1, 12, 0, tzinfo=HELSINKI)
    assert Texts(language).moment(deadline.astimezone(ZoneInfo("UTC"))) == shown
