"""Report card actions (`report.*`): pick the period (and the team), then the report.

The figures are read through the read-only `ReportSource`; the unit of work only writes
the audit record of who ran which report. Export links come from the edge
(`ExportLinks`), which signs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from consultations.errors import InvalidInput
from consultations.reporting import ReportSource, report_choices, run_report
from consultations.reports import Period, PeriodKind, Report
from dialogs.cards import report as cards
from dialogs.cards.base import Card, Localizer
from dialogs.flow import Action, CardFlow, CommandAction
from dialogs.inputs import optional_date, positive_id


class ExportLinks(Protocol):
    def urls(self, user_id: int, report: Report, language: str) -> Mapping[str, str]:
        """Signed, expiring download links of this report (format -> address)."""
        ...


def parse_choice(data: Mapping[str, Any]) -> cards.Choice:
    """The picker's inputs (untrusted): a known period, dates, "all" or a team id."""
    raw = data.get("period") or PeriodKind.THIS_QUARTER.value
    try:
        kind = PeriodKind(raw)
    except (ValueError, TypeError):
        raise InvalidInput() from None
    team = data.get("team") or cards.ALL_TEAMS
    if team != cards.ALL_TEAMS:
        team = str(positive_id(data, "team"))
    return cards.Choice(
        kind, optional_date(data.get("start")), optional_date(data.get("end")), team
    )


class ReportFlow(CardFlow):
    """`raportti`/`rapport`/`report` and the report card's actions."""

    def __init__(
        self, *, source: ReportSource, exports: ExportLinks | None = None, **kwargs: Any
    ) -> None:
        self._source = source
        self._exports = exports
        super().__init__(**kwargs)

    def actions(self) -> dict[str, Action]:
        return {"report.open": self._open, "report.show": self._show}

    def commands(self) -> dict[str, CommandAction]:
        return {"report": lambda user_id, t, _args: self.open(user_id, t)}

    async def open(self, user_id: int, t: Localizer) -> Card:
        """The picker; a member who coordinates no team is refused politely (DomainError)."""
        choices = await report_choices(self._source, user_id, self._admins)
        return cards.picker_card(t, choices)

    async def _open(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        choices = await report_choices(self._source, user_id, self._admins)
        return cards.picker_card(t, choices, parse_choice(data))

    async def _show(self, user_id: int, t: Localizer, data: Mapping[str, Any]) -> Card:
        choice = parse_choice(data)
        now = self._clock.now()
        today = now.astimezone(self._calendar.tz).date()
        period = Period.of(choice.period, today, choice.start, choice.end)
        report = await run_report(
            self._source,
            self._read(),
            actor_id=user_id,
            period=period,
            team_ids=None if choice.team == cards.ALL_TEAMS else [int(choice.team)],
            admins=self._admins,
            now=now,
            calendar=self._calendar,
        )
        exports = self._exports.urls(user_id, report, t.language) if self._exports else None
        return cards.report_card(t, report, exports)
