"""Business time for reminders, deadlines and overdue flags.

Public holidays are passed in as data so that this module stays free of
third-party dependencies; the composition root builds the calendar with e.g.::

    BusinessCalendar(
        holidays=frozenset(
            holidays.country_holidays("FI", years=range(2024, 2036)).keys()
        )
    )

The ``holidays`` package (checked with version 0.109) already lists
Juhannusaatto (Midsummer Eve) and Jouluaatto (Christmas Eve) for Finland, so
those de facto days off are honoured without this module inventing holidays of
its own.  It also lists Sunday holidays such as Easter Sunday and Pentecost,
which are harmless because Sundays are not workdays anyway.  Dates outside the
years the caller supplied are treated as ordinary days, so the caller must
cover the whole planning horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar"]

_ONE_DAY = timedelta(days=1)


def _require_aware(t: datetime) -> None:
    # A naive datetime would silently be read in the host's local zone, which
    # on servers is usually UTC and would shift every deadline by 2-3 hours.
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got {t!r}")


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working days and office hours in one time zone.

    Working time is the half-open interval ``[day_start, day_end)`` in local
    wall-clock time on every weekday in ``workdays`` that is not a holiday.
    """

    holidays: frozenset[date]
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Helsinki"))
    day_start: time = time(8)
    day_end: time = time(16)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})

    def __post_init__(self) -> None:
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end must be naive wall-clock times")
        if not self.day_start < self.day_end:
            raise ValueError("day_start must be earlier than day_end")
        # Without a single workday the searches for the next working day
        # would never terminate.
        if not self.workdays or not self.workdays <= frozenset(range(7)):
            raise ValueError("workdays must be a non-empty subset of 0..6")

    def is_working_day(self, d: date) -> bool:
        """Return whether ``d`` is a workday that is not a holiday."""
        return d.weekday() in self.workdays and d not in self.holidays

    def is_working_moment(self, t: datetime) -> bool:
        """Return whether the aware datetime ``t`` falls within office hours.

        The end of the day is exclusive: 15:59:59 is working time, 16:00 is not.
        """
        _require_aware(t)
        local = t.astimezone(self.tz)
        return self.is_working_day(local.date()) and self.day_start <= local.time() < self.day_end

    def next_working_moment(self, t: datetime) -> datetime:
        """Return the earliest working moment at or after ``t``.

        This is when a reminder due at ``t`` is delivered: ``t`` itself if it
        is within office hours, otherwise the opening time of the next working
        day (possibly later the same day).  The result is in the calendar's
        time zone.
        """
        _require_aware(t)
        local = t.astimezone(self.tz)
        d = local.date()
        if self.is_working_day(d):
            if local.time() < self.day_start:
                return self._at(d, self.day_start)
            if local.time() < self.day_end:
                return local
        return self._at(self._next_working_day(d), self.day_start)

    def add_working_days(self, t: datetime, n: int) -> datetime:
        """Return the moment ``n`` working days after ``t``.

        ``t`` is first moved to ``next_working_moment(t)``; the result is then
        the same local wall-clock time ``n`` working days later.  So Friday
        10:00 + 1 is Monday 10:00, while Friday 17:00 is first normalised to
        Monday 08:00 and + 1 gives Tuesday 08:00.  ``n == 0`` returns
        ``next_working_moment(t)``.  Wall-clock time is kept across daylight
        saving changes, so the elapsed real time may differ by an hour.

        Raises:
            ValueError: if ``n`` is negative.
        """
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        start = self.next_working_moment(t)
        d = start.date()
        for _ in range(n):
            d = self._next_working_day(d)
        # fold is reset because the disambiguation of the start day says
        # nothing about an ambiguous hour on the target day.
        target = self._at(d, start.time().replace(fold=0))
        # Only a wall time shifted out of office hours by a DST gap can fail
        # to be a working moment here; re-normalising keeps the guarantee.
        return self.next_working_moment(target)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Count working days ``d`` with ``start.date() < d <= end.date()``.

        Dates are taken in the calendar's time zone.  This is the number of
        full working days that have elapsed, used for "waiting N working
        days" and overdue flags; it is 0 if ``end`` is not after ``start``.
        """
        _require_aware(start)
        _require_aware(end)
        first = start.astimezone(self.tz).date() + _ONE_DAY
        last = end.astimezone(self.tz).date()
        count = 0
        d = first
        while d <= last:
            if self.is_working_day(d):
                count += 1
            d += _ONE_DAY
        return count

    def waited_since_before(self, now: datetime, n: int) -> datetime:
        """The moment before which a start has waited at least ``n`` working days by
        ``now``: ``working_days_between(start, now) >= n`` exactly when ``start`` is
        earlier than the moment returned. Lets a database count what is overdue.

        That is the midnight (local) that begins the ``n``-th working day counted back
        from ``now``'s own date.

        Raises:
            ValueError: if ``n`` is less than one.
        """
        _require_aware(now)
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        d = now.astimezone(self.tz).date()
        if not self.is_working_day(d):
            d = self._previous_working_day(d)
        for _ in range(n - 1):
            d = self._previous_working_day(d)
        return datetime.combine(d, time(0), tzinfo=self.tz)

    def _previous_working_day(self, d: date) -> date:
        d -= _ONE_DAY
        while not self.is_working_day(d):
            d -= _ONE_DAY
        return d

    def _next_working_day(self, d: date) -> date:
        d += _ONE_DAY
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def _at(self, d: date, wall: time) -> datetime:
        # Combining in the zone (never adding timedeltas in UTC) keeps the
        # wall-clock time right across DST changes; the UTC round trip
        # normalises a wall time that falls in a spring-forward gap to a
        # real instant.
        combined = datetime.combine(d, wall, tzinfo=self.tz)
        return combined.astimezone(UTC).astimezone(self.tz)
