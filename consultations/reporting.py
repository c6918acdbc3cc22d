"""Running a report (SPEC §2.7): who may see which teams, the read-only port the figures
come through, and the audit record of every report run or exported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from consultations.calendar import BusinessCalendar
from consultations.errors import DomainError, NotFound
from consultations.model import Team, User
from consultations.ports import UnitOfWork
from consultations.reports import Period, Report, Scope, TallySet, build_report
from consultations.services import is_admin


class ReportSource(Protocol):
    """Read-only access to what reports count (storage implements it)."""

    async def viewer(self, user_id: int) -> User | None: ...

    async def coordinated_teams(self, user_id: int) -> Sequence[Team]:
        """The teams this person coordinates."""
        ...

    async def all_teams(self) -> Sequence[Team]:
        """Every team of the county, by name."""
        ...

    async def tally(
        self, team_ids: Sequence[int], period: Period, now: datetime, tz: ZoneInfo
    ) -> TallySet:
        """Each team's raw counts for the period (every team asked for is in the answer),
        aggregated in the database; `now` decides what is overdue and what was sent."""
        ...


@dataclass(frozen=True)
class ReportChoices:
    """The teams a person may report on, and whether they see the whole county."""

    teams: tuple[Team, ...]
    admin: bool


async def report_choices(
    source: ReportSource, actor_id: int, admins: frozenset[str]
) -> ReportChoices:
    """Coordinators report on their own teams, admins on every team of the county; anyone
    else is refused politely ("error.report_coordinators_only")."""
    user = await source.viewer(actor_id)
    if user is None:
        raise NotFound()
    if is_admin(user, admins):
        teams = tuple(await source.all_teams())
        if not teams:
            raise DomainError("error.report_no_teams")
        return ReportChoices(teams, admin=True)
    teams = tuple(await source.coordinated_teams(actor_id))
    if not teams:
        raise DomainError("error.report_coordinators_only")
    return ReportChoices(teams, admin=False)


async def run_report(
    source: ReportSource,
    uow: UnitOfWork,
    *,
    actor_id: int,
    period: Period,
    team_ids: Sequence[int] | None,
    admins: frozenset[str],
    now: datetime,
    calendar: BusinessCalendar,
    action: str = "report.viewed",
    **details: str,
) -> Report:
    """The report on `team_ids` (None: every team the person may see) for the period.

    Refused before anything is read when the person may not see one of the teams. Reading
    a report is recorded in the audit trail (who, which teams, which period); the figures
    are read through the source, outside the unit of work, which only writes that record.
    """
    choices = await report_choices(source, actor_id, admins)
    allowed = {team.id: team for team in choices.teams}
    if team_ids is None:
        chosen = list(choices.teams)
    else:
        wanted = list(dict.fromkeys(team_ids))
        if not wanted or any(team_id not in allowed for team_id in wanted):
            raise DomainError("error.report_not_your_team")
        chosen = [allowed[team_id] for team_id in wanted]
    if len(chosen) == 1:
        scope = Scope.TEAM
    elif choices.admin and len(chosen) == len(allowed):
        scope = Scope.COUNTY
    else:
        scope = Scope.TEAMS
    today = now.astimezone(calendar.tz).date()
    tallies = await source.tally([team.id for team in chosen], period, now, calendar.tz)
    async with uow:
        await uow.audit.record(
            at=now,
            actor_user_id=actor_id,
            action=action,
            subject_type="report",
            subject_id=f"{period.start.isoformat()}/{period.end.isoformat()}",
            team_id=chosen[0].id if scope is Scope.TEAM else None,
            details={
                "scope": scope.value,
                "teams": [team.id for team in chosen],
                "period": period.kind.value,
                **details,
            },
        )
        await uow.commit()
    return build_report(tallies, chosen, scope, period, today, calendar)
