"""The `.ics` invitation of a consultation meeting (SPEC §2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from bot.ics import meeting_ics, meeting_uid

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
WINTER = datetime(2026, 12, 1, 9, 0, tzinfo=HELSINKI)  # EET, UTC+2
SUMMER = datetime(2027, 6, 2, 13, 15, tzinfo=HELSINKI)  # EEST, UTC+3


def build(**overrides: Any) -> bytes:
    params: dict[str, Any] = {
        "uid": meeting_uid(42),
        "sequence": 0,
        "start": WINTER,
        "minutes": 60,
        "summary": "Työkykyneuvottelu",
        "description": "Käsittelyssä työhönpaluun tuki – äänestyksen tulos",
        "location": "Neuvotteluhuone Säästö, Ähtäri",
        "organizer_name": "Päivi Työkykykoordinaattori",
        "attendees": ["Åsa Öberg", "Jüri Ääkkönen"],
        "now": NOW,
    }
    params.update(overrides)
    return meeting_ics(**params)


def parse(data: bytes) -> tuple[Calendar, Any]:
    """The calendar and its only event (typed Any: property values are a wide union)."""
    calendar = Calendar.from_ical(data)
    events = calendar.events
    assert len(events) == 1
    event: Event = events[0]
    return calendar, event


def test_calendar_header() -> None:
    calendar, _ = parse(build())
    assert str(calendar["PRODID"]) == "-//Työkykytiimi//FI"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "REQUEST"


def test_vtimezone_for_helsinki_is_included() -> None:
    data = build()
    calendar, _ = parse(data)
    assert [str(tz["TZID"]) for tz in calendar.timezones] == ["Europe/Helsinki"]
    assert calendar.get_missing_tzids() == set()
    assert b"DTSTART;TZID=Europe/Helsinki:20261201T090000" in data
    # The VTIMEZONE comes before the event that refers to it.
    assert data.index(b"BEGIN:VTIMEZONE") < data.index(b"BEGIN:VEVENT")


@pytest.mark.parametrize(
    ("start", "utc_hour"),
    [(WINTER, 7), (SUMMER, 10)],
    ids=["winter", "summer"],
)
def test_start_and_end_in_helsinki_wall_time(start: datetime, utc_hour: int) -> None:
    _, event = parse(build(start=start, minutes=90))
    dtstart = event.start
    assert isinstance(dtstart, datetime)
    assert dtstart.tzinfo is not None
    assert str(event["DTSTART"].params["TZID"]) == "Europe/Helsinki"
    local = dtstart.astimezone(HELSINKI)
    assert (local.hour, local.minute) == (start.hour, start.minute)
    assert dtstart.astimezone(UTC).hour == utc_hour
    assert dtstart == start
    assert event.end == start + timedelta(minutes=90)
    assert str(event["DTEND"].params["TZID"]) == "Europe/Helsinki"


def test_start_given_in_utc_is_written_in_helsinki_time() -> None:
    data = build(start=datetime(2027, 6, 2, 10, 15, tzinfo=UTC), minutes=45)
    assert b"DTSTART;TZID=Europe/Helsinki:20270602T131500" in data
    assert b"DTEND;TZID=Europe/Helsinki:20270602T140000" in data


def test_dtstamp_is_utc() -> None:
    data = build(now=datetime(2026, 11, 22, 11, 30, tzinfo=HELSINKI))
    assert b"DTSTAMP:20261122T093000Z" in data
    _, event = parse(data)
    assert event.DTSTAMP == NOW


def test_event_fields() -> None:
    _, event = parse(build())
    assert str(event["UID"]) == "tyokykytiimi-case42-meeting1@tyokykytiimi"
    assert event["SEQUENCE"] == 0
    assert str(event["SUMMARY"]) == "Työkykyneuvottelu"
    assert str(event["DESCRIPTION"]) == "Käsittelyssä työhönpaluun tuki – äänestyksen tulos"
    assert str(event["LOCATION"]) == "Neuvotteluhuone Säästö, Ähtäri"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_attendees_and_organizer_by_display_name_only() -> None:
    data = build()
    _, event = parse(data)
    attendees = event["ATTENDEE"]
    assert [str(a.params["CN"]) for a in attendees] == ["Åsa Öberg", "Jüri Ääkkönen"]
    assert str(event["ORGANIZER"].params["CN"]) == "Päivi Työkykykoordinaattori"
    assert b"mailto:" not in data.lower()
    assert b"@" not in data.replace(meeting_uid(42).encode(), b"")


def test_single_attendee_and_no_attendees() -> None:
    _, event = parse(build(attendees=["Åsa Öberg"]))
    assert str(event["ATTENDEE"].params["CN"]) == "Åsa Öberg"
    _, event = parse(build(attendees=[]))
    assert "ATTENDEE" not in event


def test_finnish_characters_survive_as_utf8() -> None:
    data = build()
    text = data.decode("utf-8")
    for word in ("Työkykytiimi", "Työkykyneuvottelu", "Säästö", "Ähtäri", "Åsa Öberg", "–"):
        assert word in text.replace("\r\n ", "")  # undo line folding


def test_lines_are_crlf_terminated_and_folded() -> None:
    data = build(description="ä" * 200)
    lines = data.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCALENDAR"
    assert all(len(line) <= 75 for line in lines)
    _, event = parse(data)
    assert str(event["DESCRIPTION"]) == "ä" * 200


def test_reschedule_keeps_uid_and_increments_sequence() -> None:
    first = parse(build(sequence=0, start=WINTER))[1]
    moved_to = WINTER + timedelta(days=2, hours=3)
    second = parse(build(sequence=1, start=moved_to, now=NOW + timedelta(days=1)))[1]
    assert str(first["UID"]) == str(second["UID"])
    assert second["SEQUENCE"] > first["SEQUENCE"]
    assert second.start == moved_to


def test_meeting_uid_is_stable_and_per_meeting() -> None:
    assert meeting_uid(7) == meeting_uid(7) == meeting_uid(7, 1)
    assert meeting_uid(7) != meeting_uid(8)
    assert meeting_uid(7, 2) != meeting_uid(7)
    with pytest.raises(ValueError):
        meeting_uid(0)


def test_cancellation() -> None:
    calendar, event = parse(build(method="CANCEL", sequence=2))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 2
    assert str(event["UID"]) == meeting_uid(42)


def test_empty_location_and_description_are_left_out() -> None:
    _, event = parse(build(location="", description=""))
    assert "LOCATION" not in event
    assert "DESCRIPTION" not in event


@pytest.mark.parametrize(
    "overrides",
    [
        {"method": "PUBLISH"},
        {"start": datetime(2026, 12, 1, 9, 0)},  # noqa: DTZ001 - naive on purpose
        {"now": datetime(2026, 11, 22, 9, 0)},  # noqa: DTZ001 - naive on purpose
        {"minutes": 0},
        {"sequence": -1},
    ],
)
def test_invalid_arguments_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build(**overrides)
