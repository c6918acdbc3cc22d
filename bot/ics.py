"""The `.ics` invitation sent when a consultation meeting is fixed, moved or cancelled (SPEC §2.3).

One meeting keeps one UID for its whole life: a reschedule or a cancellation is sent with the
same UID and a higher SEQUENCE so that calendar clients update the event they already have
instead of adding a second one.

Attendees and the organizer are given by display name only. We do not hold e-mail addresses
and must not invent them, so the calendar address is the placeholder ``invalid:nomail`` that
Outlook itself writes for people without an address.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

__all__ = ["HELSINKI", "PRODID", "meeting_ics", "meeting_uid"]

HELSINKI = ZoneInfo("Europe/Helsinki")
PRODID = "-//Työkykytiimi//FI"
NO_ADDRESS = "invalid:nomail"
_STATUS = {"REQUEST": "CONFIRMED", "CANCEL": "CANCELLED"}


def meeting_uid(consultation_id: int, round_: int = 1) -> str:
    """The UID of a consultation's meeting: stable across reschedules and cancellation.

    ``round_`` distinguishes a genuinely new meeting for the same case (e.g. a follow-up
    consultation), never a reschedule of the same one.
    """
    if consultation_id < 1 or round_ < 1:
        raise ValueError("consultation_id and round_ must be positive")
    return f"tyokykytiimi-case{consultation_id}-meeting{round_}@tyokykytiimi"


def _address(name: str) -> vCalAddress:
    address = vCalAddress(NO_ADDRESS)
    address.params["CN"] = name
    return address


def meeting_ics(
    *,
    uid: str,
    sequence: int,
    start: datetime,
    minutes: int,
    summary: str,
    description: str,
    location: str,
    organizer_name: str,
    attendees: Sequence[str],
    method: str = "REQUEST",
    now: datetime,
) -> bytes:
    """A VCALENDAR with a Europe/Helsinki VTIMEZONE and one VEVENT, UTF-8 encoded.

    ``method`` is "REQUEST" (new or rescheduled meeting, STATUS:CONFIRMED) or "CANCEL"
    (STATUS:CANCELLED). ``start`` and ``now`` must be timezone-aware; the event is written in
    Helsinki wall-clock time and DTSTAMP in UTC.
    """
    if method not in _STATUS:
        raise ValueError(f"method must be REQUEST or CANCEL, got {method!r}")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    if sequence < 0:
        raise ValueError("sequence must not be negative")

    local_start = start.astimezone(HELSINKI)
    # Adding in UTC keeps the real duration right even across a daylight saving change.
    local_end = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(HELSINKI)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", local_start)
    event.add("dtend", local_end)
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", _STATUS[method])
    event.add("organizer", _address(organizer_name))
    for name in attendees:
        event.add("attendee", _address(name))
    calendar.add_component(event)

    # A VTIMEZONE generated from the zoneinfo data, covering the meeting's year and the next
    # one so that the transitions around the meeting are always included.
    calendar.add_missing_timezones(
        first_date=date(local_start.year, 1, 1), last_date=date(local_start.year + 2, 1, 1)
    )
    result: bytes = calendar.to_ical()
    return result
