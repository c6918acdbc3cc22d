"""Reports (SPEC §2.7, issue 13): is the consultation model working?

The storage aggregates a period's events per team into raw tallies (`TeamTally`, through
the port `consultations.reporting.ReportSource`); `build_report` turns them into figures
in which every number describing fewer than five cases is replaced by `SUPPRESSED` before
anything else sees it. A card, a workbook or a CSV file gets a `Report` only, so no road
can show a small number.

How each figure is counted (the card and the export say the same in words):
- requests: first submitted in the period (Helsinki dates), by what became of them at
  triage (accepted, declined, withdrawn before a decision, still waiting), per month;
  declined ones by the route suggested instead (the category of a decline; its reason is
  free text and stays in the case);
- lead times, in working days (`BusinessCalendar`: weekends and Finnish public holidays
  off) counted as `working_days_between` does, for the ends that fall in the period:
  request -> triage decision and request -> meeting from the start of that round (the
  first submission, or the day the case was brought back), meeting -> summary published,
  and request -> case closed from the first submission; median and 90th percentile are
  nearest-rank (half / nine in ten of the cases took at most that many days);
- a meeting counts as held once its summary is out;
- recommendations: those due in the period (removed ones left out) by status; overdue is
  an open or in-progress one past its due date; the implementation rate is done ÷ all
  whose due date has passed, overall and by owner type (and by team, side by side);
- outcomes of the cases closed in the period; cases brought back to the team;
- feedback: the requests for feedback sent in the period (four weeks after a round's
  first summary), how many were answered, their mean and 1–5 distribution;
- barriers and services named in the requests received; professions invited to the
  meetings held and how many of them were present;
- case managers' load now: the open follow-ups (cases not finished) each manages;
  hand-overs accepted in the period.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final, TypeAlias, final
from zoneinfo import ZoneInfo

from consultations.calendar import BusinessCalendar
from consultations.consultation import Barrier, DeclineRoute, Outcome, Service
from consultations.errors import DomainError
from consultations.model import Profession, Team
from consultations.summary import NotImplementedReason, OutsideParty

# A cell describing fewer cases than this is not shown (zero included: "none" can point
# at people as well as "one" can).
SMALL_NUMBER: Final = 5
# Two dates may span at most about three years: a county's evaluation period.
MAX_PERIOD_DAYS: Final = 3 * 366


@final
class Suppressed:
    """A figure describing fewer than five cases. It keeps no number: it cannot leak one."""

    _instance: Suppressed | None = None

    def __new__(cls) -> Suppressed:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SUPPRESSED"

    def __str__(self) -> str:
        return "< 5"


SUPPRESSED: Final = Suppressed()
# A count of cases, 5 or more, or SUPPRESSED.
Count: TypeAlias = int | Suppressed
# Working days (a median or a percentile), shown only when five or more cases are behind it.
Days: TypeAlias = int | Suppressed
# A share 0..1 or a mean, shown only when five or more cases are on each side of it.
Ratio: TypeAlias = float | Suppressed


def count(n: int) -> Count:
    return n if n >= SMALL_NUMBER else SUPPRESSED


def ratio(numerator: int, denominator: int) -> Ratio:
    """numerator / denominator, shown when both count five cases or more."""
    if numerator < SMALL_NUMBER or denominator < SMALL_NUMBER:
        return SUPPRESSED
    return numerator / denominator


# --- periods -----------------------------------------------------------------------------


class PeriodKind(enum.StrEnum):
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_QUARTER = "this_quarter"
    THIS_YEAR = "this_year"
    LAST_12_MONTHS = "last_12_months"
    CUSTOM = "custom"


def add_months(first: date, months: int) -> date:
    """The first day of the month `months` after the month of `first`."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return add_months(first, 1) - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """Helsinki dates, both ends included."""

    kind: PeriodKind
    start: date
    end: date

    @classmethod
    def of(
        cls, kind: PeriodKind, today: date, start: date | None = None, end: date | None = None
    ) -> Period:
        """The period a choice means on `today`; two dates are checked (DomainError)."""
        month = today.replace(day=1)
        if kind is PeriodKind.THIS_MONTH:
            return cls(kind, month, _month_end(month))
        if kind is PeriodKind.LAST_MONTH:
            return cls(kind, add_months(month, -1), month - timedelta(days=1))
        if kind is PeriodKind.THIS_QUARTER:
            first = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
            return cls(kind, first, _month_end(add_months(first, 2)))
        if kind is PeriodKind.THIS_YEAR:
            return cls(kind, date(today.year, 1, 1), date(today.year, 12, 31))
        if kind is PeriodKind.LAST_12_MONTHS:
            # The current month and the eleven before it: twelve whole months on the chart.
            return cls(kind, add_months(month, -11), _month_end(month))
        if start is None or end is None:
            raise DomainError("error.report_dates_missing")
        if end < start:
            raise DomainError("error.report_dates_order")
        if (end - start).days > MAX_PERIOD_DAYS:
            raise DomainError("error.report_period_too_long")
        return cls(kind, start, end)

    def months(self) -> tuple[date, ...]:
        """The first day of every month the period touches."""
        first, last = self.start.replace(day=1), self.end.replace(day=1)
        months = [first]
        while months[-1] < last:
            months.append(add_months(months[-1], 1))
        return tuple(months)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[first midnight, the midnight after the last day) in `tz`."""
        return (
            datetime.combine(self.start, time(), tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time(), tzinfo=tz),
        )


# --- what is counted -----------------------------------------------------------------------


class Fate(enum.StrEnum):
    """What became of a request at triage."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    OPEN = "open"


class Lead(enum.StrEnum):
    TRIAGE = "triage"  # request -> triage decision
    MEETING = "meeting"  # request -> meeting
    SUMMARY = "summary"  # meeting -> summary published
    CLOSING = "closing"  # request -> case closed


class RecState(enum.StrEnum):
    """A recommendation's status as a report shows it: overdue apart from the rest."""

    DONE = "done"
    IN_PROGRESS = "in_progress"
    NOT_IMPLEMENTED = "not_implemented"
    OPEN = "open"
    OVERDUE = "overdue"


class OwnerType(enum.StrEnum):
    """Who carries a recommendation out: a person in the bot, or an outside party."""

    TEAM_MEMBER = "team_member"
    KELA = OutsideParty.KELA.value
    EMPLOYMENT_SERVICES = OutsideParty.EMPLOYMENT_SERVICES.value
    OCCUPATIONAL_HEALTH = OutsideParty.OCCUPATIONAL_HEALTH.value
    HEALTH_SERVICES = OutsideParty.HEALTH_SERVICES.value
    SOCIAL_SERVICES = OutsideParty.SOCIAL_SERVICES.value
    EDUCATION = OutsideParty.EDUCATION.value
    NGO = OutsideParty.NGO.value
    OTHER = OutsideParty.OTHER.value


class Scope(enum.StrEnum):
    TEAM = "team"
    TEAMS = "teams"  # a coordinator's several teams
    COUNTY = "county"  # an admin's every team


@dataclass(frozen=True)
class RecKey:
    """A group of recommendations as the storage counts them."""

    status: str
    past_due: bool
    owner: OwnerType
    category: str = ""


@dataclass
class TeamTally:
    """One team's raw counts for a period, as the storage aggregates them. Never shown:
    `build_report` turns them into figures with small numbers suppressed."""

    # (YYYY-MM of the first submission, fate) -> requests received
    requests: Counter[tuple[str, Fate]] = field(default_factory=Counter)
    # decline route value ("" when none was suggested) -> declined requests received
    declined_routes: Counter[str] = field(default_factory=Counter)
    barriers: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    # (from, to) Helsinki dates -> cases
    lead: dict[Lead, Counter[tuple[date, date]]] = field(
        default_factory=lambda: {lead: Counter() for lead in Lead}
    )
    recommendations: Counter[RecKey] = field(default_factory=Counter)
    # outcome value ("" when none was recorded) -> cases closed
    closed: Counter[str] = field(default_factory=Counter)
    brought_back: int = 0
    # rating (0: not answered) -> feedback requests sent
    feedback: Counter[int] = field(default_factory=Counter)
    # (profession value or "", was present) -> invitations to meetings held
    professions: Counter[tuple[str, bool]] = field(default_factory=Counter)
    # case manager's user id -> open follow-ups
    load: Counter[int] = field(default_factory=Counter)
    handovers: int = 0

    def add(self, other: TeamTally) -> None:
        self.requests.update(other.requests)
        self.declined_routes.update(other.declined_routes)
        self.barriers.update(other.barriers)
        self.services.update(other.services)
        for lead in Lead:
            self.lead[lead].update(other.lead[lead])
        self.recommendations.update(other.recommendations)
        self.closed.update(other.closed)
        self.brought_back += other.brought_back
        self.feedback.update(other.feedback)
        self.professions.update(other.professions)
        self.load.update(other.load)
        self.handovers += other.handovers


@dataclass(frozen=True)
class TallySet:
    teams: Mapping[int, TeamTally]
    # Case managers' names by user id.
    people: Mapping[int, str]


# --- the figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRow:
    month: date
    received: Count
    fates: tuple[tuple[Fate, Count], ...]


@dataclass(frozen=True)
class RequestFigures:
    received: Count
    fates: tuple[tuple[Fate, Count], ...]
    declined_by_route: tuple[tuple[DeclineRoute | None, Count], ...]
    months: tuple[MonthRow, ...]

    def fate(self, fate: Fate) -> Count:
        return dict(self.fates)[fate]


@dataclass(frozen=True)
class LeadTime:
    lead: Lead
    cases: Count
    median: Days
    p90: Days


@dataclass(frozen=True)
class OwnerRow:
    owner: OwnerType
    due: Count
    done: Count
    rate: Ratio


@dataclass(frozen=True)
class RecommendationFigures:
    total: Count
    states: tuple[tuple[RecState, Count], ...]
    not_implemented: tuple[tuple[NotImplementedReason | None, Count], ...]
    # Due date passed, and of those done: the implementation rate.
    due: Count
    done: Count
    rate: Ratio
    owners: tuple[OwnerRow, ...]


@dataclass(frozen=True)
class ClosingFigures:
    closed: Count
    outcomes: tuple[tuple[Outcome, Count], ...]
    brought_back: Count


@dataclass(frozen=True)
class FeedbackFigures:
    asked: Count
    answered: Count
    response_rate: Ratio
    mean: Ratio
    ratings: tuple[tuple[int, Count], ...]


@dataclass(frozen=True)
class ProfessionRow:
    profession: Profession | None
    convened: Count
    attended: Count


@dataclass(frozen=True)
class LoadRow:
    name: str
    open_follow_ups: Count


@dataclass(frozen=True)
class Figures:
    requests: RequestFigures
    barriers: tuple[tuple[Barrier, Count], ...]
    services: tuple[tuple[Service, Count], ...]
    lead_times: tuple[LeadTime, ...]
    recommendations: RecommendationFigures
    closing: ClosingFigures
    feedback: FeedbackFigures
    meetings: Count
    professions: tuple[ProfessionRow, ...]
    # People with open follow-ups (a count of staff, not of cases), most loaded first.
    case_managers: int
    load: tuple[LoadRow, ...]
    handovers: Count

    def lead(self, lead: Lead) -> LeadTime:
        return next(item for item in self.lead_times if item.lead is lead)


@dataclass(frozen=True)
class TeamFigures:
    team_id: int
    name: str
    figures: Figures


@dataclass(frozen=True)
class Report:
    period: Period
    scope: Scope
    # The whole: the one team, the coordinator's teams or the county.
    whole: Figures
    # Every team in it, side by side (one for a team report).
    teams: tuple[TeamFigures, ...]
    today: date

    @property
    def team_ids(self) -> tuple[int, ...]:
        return tuple(team.team_id for team in self.teams)


# --- computing them --------------------------------------------------------------------------


class WorkingDayIndex:
    """Working days counted once per date over a span, so that each (from, to) pair of
    dates costs one subtraction: `between(a, b)` is `working_days_between` for dates."""

    def __init__(self, calendar: BusinessCalendar, dates: Iterable[date]) -> None:
        days = sorted(set(dates))
        self._first = days[0] if days else date(2000, 1, 1)
        span = (days[-1] - self._first).days + 1 if days else 1
        running, upto = 0, []
        for offset in range(span):
            running += calendar.is_working_day(self._first + timedelta(days=offset))
            upto.append(running)
        self._upto = upto

    def between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end is not after start)."""
        if end <= start:
            return 0
        return self._upto[(end - self._first).days] - self._upto[(start - self._first).days]


def nearest_rank(histogram: Mapping[int, int], percent: int) -> int:
    """The smallest value at least `percent` % of the cases are at or below."""
    total = sum(histogram.values())
    rank = max(1, (percent * total + 99) // 100)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise ValueError("no cases")


def _lead_time(lead: Lead, pairs: Counter[tuple[date, date]], days: WorkingDayIndex) -> LeadTime:
    histogram: Counter[int] = Counter()
    for (start, end), cases in pairs.items():
        histogram[days.between(start, end)] += cases
    total = sum(histogram.values())
    if total < SMALL_NUMBER:
        return LeadTime(lead, SUPPRESSED, SUPPRESSED, SUPPRESSED)
    return LeadTime(lead, total, nearest_rank(histogram, 50), nearest_rank(histogram, 90))


def _state(key: RecKey) -> RecState:
    if key.status in (RecState.DONE, RecState.NOT_IMPLEMENTED):
        return RecState(key.status)
    if key.past_due:
        return RecState.OVERDUE
    return RecState.IN_PROGRESS if key.status == RecState.IN_PROGRESS else RecState.OPEN


def _recommendations(tally: Counter[RecKey]) -> RecommendationFigures:
    kept = Counter({k: n for k, n in tally.items() if k.status != "removed"})
    states: Counter[RecState] = Counter()
    reasons: Counter[str] = Counter()
    due: Counter[OwnerType] = Counter()
    done: Counter[OwnerType] = Counter()
    for key, n in kept.items():
        states[_state(key)] += n
        if key.status == RecState.NOT_IMPLEMENTED:
            reasons[key.category] += n
        if key.past_due:
            due[key.owner] += n
            done[key.owner] += n if key.status == RecState.DONE else 0
    categories: list[NotImplementedReason | None] = [*NotImplementedReason, None]
    return RecommendationFigures(
        total=count(sum(kept.values())),
        states=tuple((s, count(states[s])) for s in RecState),
        not_implemented=tuple((c, count(reasons[c.value if c else ""])) for c in categories),
        due=count(sum(due.values())),
        done=count(sum(done.values())),
        rate=ratio(sum(done.values()), sum(due.values())),
        owners=tuple(
            OwnerRow(o, count(due[o]), count(done[o]), ratio(done[o], due[o])) for o in OwnerType
        ),
    )


def _feedback(tally: Counter[int]) -> FeedbackFigures:
    asked = sum(tally.values())
    answered = sum(n for rating, n in tally.items() if rating)
    total = sum(rating * n for rating, n in tally.items())
    return FeedbackFigures(
        asked=count(asked),
        answered=count(answered),
        response_rate=ratio(answered, asked),
        mean=total / answered if answered >= SMALL_NUMBER else SUPPRESSED,
        ratings=tuple((rating, count(tally[rating])) for rating in range(1, 6)),
    )


def figures(
    tally: TeamTally, period: Period, people: Mapping[int, str], days: WorkingDayIndex
) -> Figures:
    """The figures of one tally, every small number suppressed."""
    by_month: Counter[str] = Counter()
    fates: Counter[Fate] = Counter()
    for (month, fate), n in tally.requests.items():
        by_month[month] += n
        fates[fate] += n
    routes: list[DeclineRoute | None] = [*DeclineRoute, None]
    months = tuple(
        MonthRow(
            month,
            count(by_month[f"{month:%Y-%m}"]),
            tuple((f, count(tally.requests[(f"{month:%Y-%m}", f)])) for f in Fate),
        )
        for month in period.months()
    )
    professions: Counter[str] = Counter()
    present: Counter[str] = Counter()
    for (profession, attended), n in tally.professions.items():
        professions[profession] += n
        present[profession] += n if attended else 0
    known: list[Profession | None] = [*Profession, None]
    loads = sorted(
        ((people.get(user_id, ""), n) for user_id, n in tally.load.items()),
        key=lambda item: (-item[1], item[0]),
    )
    return Figures(
        requests=RequestFigures(
            received=count(sum(fates.values())),
            fates=tuple((f, count(fates[f])) for f in Fate),
            declined_by_route=tuple(
                (r, count(tally.declined_routes[r.value if r else ""])) for r in routes
            ),
            months=months,
        ),
        barriers=tuple((b, count(tally.barriers[b.value])) for b in Barrier),
        services=tuple((s, count(tally.services[s.value])) for s in Service),
        lead_times=tuple(_lead_time(lead, tally.lead[lead], days) for lead in Lead),
        recommendations=_recommendations(tally.recommendations),
        closing=ClosingFigures(
            closed=count(sum(tally.closed.values())),
            outcomes=tuple((o, count(tally.closed[o.value])) for o in Outcome),
            brought_back=count(tally.brought_back),
        ),
        feedback=_feedback(tally.feedback),
        meetings=count(sum(tally.lead[Lead.MEETING].values())),
        professions=tuple(
            ProfessionRow(p, count(professions[key]), count(present[key]))
            for p in known
            for key in [p.value if p else ""]
        ),
        case_managers=len(loads),
        load=tuple(LoadRow(name, count(n)) for name, n in loads),
        handovers=count(tally.handovers),
    )


def build_report(
    tallies: TallySet,
    teams: Sequence[Team],
    scope: Scope,
    period: Period,
    today: date,
    calendar: BusinessCalendar,
) -> Report:
    """Every team's figures and the whole's, from raw tallies merged before suppression."""
    whole = TeamTally()
    for team in teams:
        whole.add(tallies.teams[team.id])
    days = WorkingDayIndex(
        calendar, (d for pairs in whole.lead.values() for pair in pairs for d in pair)
    )
    by_team = tuple(
        TeamFigures(
            team.id, team.name, figures(tallies.teams[team.id], period, tallies.people, days)
        )
        for team in teams
    )
    total = (
        by_team[0].figures if len(by_team) == 1 else figures(whole, period, tallies.people, days)
    )
    return Report(period, scope, total, by_team, today)
