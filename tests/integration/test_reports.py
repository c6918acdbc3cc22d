"""Report figures on SQLite and PostgreSQL equal an independent count over the same
generated histories: the storage's aggregates and the domain's suppression together,
against plain Python over the lives (working days straight from the business calendar,
percentiles by sorting)."""

from __future__ import annotations

import asyncio
import math
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from consultations.calendar import BusinessCalendar
from consultations.consultation import Barrier, DeclineRoute, Outcome, Service
from consultations.errors import DomainError
from consultations.model import Profession
from consultations.reporting import run_report
from consultations.reports import (
    Fate,
    Figures,
    Lead,
    OwnerType,
    Period,
    PeriodKind,
    RecState,
    Report,
    Scope,
)
from consultations.summary import NotImplementedReason, OutsideParty
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.reports import SqlAlchemyReportSource
from storage.tables import audit_events
from storage.uow import SqlAlchemyUnitOfWork
from tests.support.histories import HandOverDone, Invited, Life, Rec, clear, rows, write

T = TypeVar("T")
HELSINKI = ZoneInfo("Europe/Helsinki")
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2024, 2029)).keys())
)
TEAMS = {1: "Työkykytiimi Pohjoinen", 2: "Työkykytiimi Etelä", 3: "Työkykytiimi Itä"}
ADMIN, COORDINATOR, MEMBER = 1, 2, 3
REQUESTERS = (10, 11, 12)
MEMBERS = (20, 21, 22, 23)
PEOPLE: dict[int, tuple[str, str | None]] = {
    ADMIN: ("Ylläpitäjä", None),
    COORDINATOR: ("Koordinaattori", "work_ability_coordinator"),
    MEMBER: ("Jäsen", "nurse"),
    **{r: (f"Pyytäjä {r}", None) for r in REQUESTERS},
    20: ("Aino Lääkäri", "physician"),
    21: ("Bertil Sosiaalityö", "social_worker"),
    22: ("Cecilia", None),
    23: ("Daniel Fysio", "physiotherapist"),
}
ADMINS = frozenset({f"00000000-0000-0000-0000-{ADMIN:012d}"})
# Monday 2 March 2026: the window spans the switch to summer time (29 March), Easter
# (3–6 April), May Day, Ascension Day and Midsummer.
BASE = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


# --- the database, on a loop of its own (hypothesis runs a sync test many times) -----------


class Db:
    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.engine = create_engine(url)
        self.run(upgrade(self.engine))
        self.sessions = session_factory(self.engine)
        self.source = SqlAlchemyReportSource(self.sessions)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(120)

    def close(self) -> None:
        self.run(self.engine.dispose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def store(self, lives: list[Life]) -> None:
        async def go() -> None:
            async with self.engine.begin() as connection:
                await clear(connection)
                await write(
                    connection,
                    rows(
                        lives,
                        team_names=TEAMS,
                        people=PEOPLE,
                        coordinators=[(1, COORDINATOR), (2, COORDINATOR)],
                        members=[(1, MEMBER), *((1, m) for m in MEMBERS)],
                    ),
                )

        self.run(go())

    def report(
        self, actor: int, period: Period, now: datetime, team_ids: list[int] | None = None
    ) -> Report:
        return self.run(
            run_report(
                self.source,
                SqlAlchemyUnitOfWork(self.sessions),
                actor_id=actor,
                period=period,
                team_ids=team_ids,
                admins=ADMINS,
                now=now,
                calendar=CALENDAR,
            )
        )


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    database = Db(database_url)
    try:
        yield database
    finally:
        database.close()


# --- histories ---------------------------------------------------------------------------

gaps = st.integers(0, 20 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


@st.composite
def lives(draw: st.DrawFn) -> list[Life]:
    submitted = BASE + timedelta(minutes=draw(st.integers(0, 150 * 24 * 60)))
    life = Life(
        team_id=draw(st.sampled_from(sorted(TEAMS))),
        requester_id=draw(st.sampled_from(REQUESTERS)),
        submitted=submitted,
        barriers=tuple(draw(st.sets(st.sampled_from([b.value for b in Barrier]), max_size=3))),
        services=tuple(draw(st.sets(st.sampled_from([s.value for s in Service]), max_size=3))),
    )
    if draw(st.booleans()):
        life.asked_at = submitted + draw(gaps)
    ready = (life.asked_at or submitted) + timedelta(minutes=2)
    stage = draw(
        st.sampled_from(
            [
                "waiting",
                "withdrawn",
                "declined",
                "accepted",
                "meeting",
                "published",
                "closed",
                "back",
            ]
        )
    )
    copies = draw(st.integers(1, 6))
    if stage != "waiting":
        decided = ready + draw(gaps)
        if stage in ("withdrawn", "declined"):
            life.decision = (stage, decided)
            life.route = draw(st.sampled_from([*[r.value for r in DeclineRoute], None]))
        else:
            life.decision = ("accepted", decided)
            if draw(st.booleans()):
                life.poll_cancelled = decided + timedelta(hours=1)
    if stage in ("meeting", "published", "closed", "back"):
        assert life.decision is not None
        life.meeting = (life.poll_cancelled or life.decision[1]) + timedelta(hours=1) + draw(gaps)
        life.invited = tuple(
            draw(
                st.lists(
                    st.builds(
                        Invited,
                        st.sampled_from(MEMBERS),
                        st.sampled_from([None, *[p.value for p in Profession][:4]]),
                        st.booleans(),
                    ),
                    max_size=3,
                    unique_by=lambda invited: invited.user_id,
                )
            )
        )
    if stage in ("published", "closed", "back"):
        assert life.meeting is not None
        life.published = life.meeting + timedelta(hours=1) + draw(gaps)
        last = life.published
        if life.invited and draw(st.booleans()):
            life.amended = last = life.published + draw(gaps)
        life.recs = tuple(draw(st.lists(recs(life.published.date()), max_size=3)))
        life.case_manager = draw(st.sampled_from(MEMBERS))
        if draw(st.booleans()):
            answered = last + draw(gaps)
            others = [m for m in MEMBERS if m != life.case_manager]
            life.handover = HandOverDone(
                draw(st.sampled_from(others)), answered, draw(st.booleans())
            )
            last = answered
        life.rating = draw(st.none() | st.integers(1, 5))
        end = last + timedelta(minutes=1) + draw(gaps)
        if stage == "closed":
            life.end = ("closed", end, draw(st.sampled_from([o.value for o in Outcome])))
        elif stage == "back":
            life.end = ("back", end, None)
            if draw(st.booleans()):
                life.second = (draw(st.sampled_from(["accepted", "declined"])), end + draw(gaps))
                life.route = draw(st.sampled_from([r.value for r in DeclineRoute]))
    return [replace(life) for _ in range(copies)]


@st.composite
def recs(draw: st.DrawFn, published: date) -> Rec:
    status = draw(st.sampled_from(["open", "in_progress", "done", "not_implemented", "removed"]))
    owner = draw(st.sampled_from([None, *[p.value for p in OutsideParty]]))
    return Rec(
        due=published + timedelta(days=draw(st.integers(0, 90))),
        status=status,
        owner_user_id=draw(st.sampled_from(MEMBERS)) if owner is None else None,
        party=owner,
        category=draw(st.sampled_from([None, *[c.value for c in NotImplementedReason]]))
        if status == "not_implemented"
        else None,
    )


@st.composite
def periods(draw: st.DrawFn) -> tuple[Period, datetime]:
    today = draw(st.dates(date(2026, 3, 15), date(2026, 10, 31)))
    now = datetime.combine(today, time(draw(st.integers(0, 23)), 30), tzinfo=HELSINKI)
    kind = draw(st.sampled_from(PeriodKind))
    if kind is PeriodKind.CUSTOM:
        start = draw(st.dates(date(2026, 2, 1), date(2026, 9, 30)))
        end = start + timedelta(days=draw(st.integers(0, 200)))
        return Period.of(kind, today, start, end), now
    return Period.of(kind, today), now


# --- the independent count ------------------------------------------------------------------


def cell(n: int) -> int | str:
    return n if n >= 5 else "< 5"


def share(part: int, whole: int) -> float | str:
    return round(part / whole, 6) if part >= 5 and whole >= 5 else "< 5"


def rank(values: list[int], percent: int) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * percent / 100) - 1]


def lead(values: list[int]) -> tuple[int | str, ...]:
    if len(values) < 5:
        return ("< 5", "< 5", "< 5")
    return (len(values), rank(values, 50), rank(values, 90))


def expected(lives: list[Life], period: Period, now: datetime) -> dict[str, Any]:
    start = datetime.combine(period.start, time(), tzinfo=HELSINKI)
    end = datetime.combine(period.end + timedelta(days=1), time(), tzinfo=HELSINKI)
    today = now.astimezone(HELSINKI).date()

    def inside(moment: datetime | None) -> bool:
        return moment is not None and start <= moment < end

    def days(a: datetime, b: datetime) -> int:
        return CALENDAR.working_days_between(a, b)

    received = [life for life in lives if inside(life.submitted)]

    def fate(life: Life) -> str:
        return life.decision[0] if life.decision else "open"

    fates = Counter(fate(life) for life in received)
    months = {
        month.strftime("%Y-%m"): Counter(
            fate(life)
            for life in received
            if life.submitted.astimezone(HELSINKI).strftime("%Y-%m") == month.strftime("%Y-%m")
        )
        for month in period.months()
    }
    routes = Counter(life.route or "" for life in received if fate(life) == "declined")
    triage, meeting, summary, closing = [], [], [], []
    for life in lives:
        if (
            life.decision
            and life.decision[0] in ("accepted", "declined")
            and inside(life.decision[1])
        ):
            triage.append(days(life.submitted, life.decision[1]))
        if life.second and inside(life.second[1]) and life.end:
            triage.append(days(life.end[1], life.second[1]))
        if life.published and life.meeting and inside(life.meeting):
            meeting.append(days(life.submitted, life.meeting))
        if life.published and life.meeting and inside(life.published):
            summary.append(days(life.meeting, life.published))
        if life.end and life.end[0] == "closed" and inside(life.end[1]):
            closing.append(days(life.submitted, life.end[1]))
    states: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    due: Counter[str] = Counter()
    done: Counter[str] = Counter()
    for life in lives:
        for rec in life.recs if life.published else ():
            if rec.status == "removed" or not period.start <= rec.due <= period.end:
                continue
            past = rec.due < today
            active = rec.status in ("open", "in_progress")
            states["overdue" if active and past else rec.status] += 1
            if rec.status == "not_implemented":
                reasons[rec.category or ""] += 1
            owner = rec.party or "team_member"
            if past:
                due[owner] += 1
                done[owner] += rec.status == "done"
    sent = [
        life
        for life in lives
        if life.published
        and inside(life.published + timedelta(days=28))
        and life.published + timedelta(days=28) <= now
    ]
    ratings = Counter(life.rating for life in sent if life.rating)
    answered = sum(ratings.values())
    held = [life for life in lives if life.published and inside(life.meeting)]
    convened: Counter[str] = Counter()
    present: Counter[str] = Counter()
    for life in held:
        for invited in life.invited:
            profession = invited.profession or PEOPLE[invited.user_id][1] or ""
            convened[profession] += 1
            present[profession] += invited.user_id in life.present()
    load: Counter[int] = Counter()
    for life in lives:
        if life.case_manager and life.status() not in ("closed", "declined", "withdrawn"):
            handover = life.handover
            load[handover.to_user_id if handover and handover.accepted else life.case_manager] += 1
    closed = Counter(
        life.end[2]
        for life in lives
        if life.end and life.end[0] == "closed" and inside(life.end[1])
    )
    return {
        "received": cell(len(received)),
        "fates": {f.value: cell(fates[f.value]) for f in Fate},
        "routes": {
            (r.value if r else ""): cell(routes[r.value if r else ""])
            for r in [*DeclineRoute, None]
        },
        "months": {
            m: (cell(sum(c.values())), {f.value: cell(c[f.value]) for f in Fate})
            for m, c in months.items()
        },
        "barriers": {
            b.value: cell(sum(b.value in life.barriers for life in received)) for b in Barrier
        },
        "services": {
            s.value: cell(sum(s.value in life.services for life in received)) for s in Service
        },
        "lead": {
            Lead.TRIAGE.value: lead(triage),
            Lead.MEETING.value: lead(meeting),
            Lead.SUMMARY.value: lead(summary),
            Lead.CLOSING.value: lead(closing),
        },
        "recs": {
            "total": cell(sum(states.values())),
            "states": {s.value: cell(states[s.value]) for s in RecState},
            "reasons": {
                (c.value if c else ""): cell(reasons[c.value if c else ""])
                for c in [*NotImplementedReason, None]
            },
            "due": cell(sum(due.values())),
            "done": cell(sum(done.values())),
            "rate": share(sum(done.values()), sum(due.values())),
            "owners": {
                o.value: (
                    cell(due[o.value]),
                    cell(done[o.value]),
                    share(done[o.value], due[o.value]),
                )
                for o in OwnerType
            },
        },
        "closing": {
            "closed": cell(sum(closed.values())),
            "outcomes": {o.value: cell(closed[o.value]) for o in Outcome},
            "back": cell(
                sum(
                    1
                    for life in lives
                    if life.end and life.end[0] == "back" and inside(life.end[1])
                )
            ),
        },
        "feedback": {
            "asked": cell(len(sent)),
            "answered": cell(answered),
            "rate": share(answered, len(sent)),
            "mean": round(sum(r * n for r, n in ratings.items()) / answered, 6)
            if answered >= 5
            else "< 5",
            "ratings": {r: cell(ratings[r]) for r in range(1, 6)},
        },
        "meetings": cell(len(held)),
        "professions": {
            (p.value if p else ""): (
                cell(convened[p.value if p else ""]),
                cell(present[p.value if p else ""]),
            )
            for p in [*Profession, None]
        },
        "case_managers": len(load),
        "load": sorted(((PEOPLE[u][0], cell(n)) for u, n in load.items()), key=lambda x: x[0]),
        "handovers": cell(
            sum(
                1
                for life in lives
                if life.handover and life.handover.accepted and inside(life.handover.answered_at)
            )
        ),
    }


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def shown(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    return value if isinstance(value, int) else str(value)


def plain(f: Figures) -> dict[str, Any]:
    """The report's figures in the shape of `expected`."""
    r, rec, fb = f.requests, f.recommendations, f.feedback
    return {
        "received": shown(r.received),
        "fates": {fate.value: shown(n) for fate, n in r.fates},
        "routes": {(route.value if route else ""): shown(n) for route, n in r.declined_by_route},
        "months": {
            m.month.strftime("%Y-%m"): (
                shown(m.received),
                {fate.value: shown(n) for fate, n in m.fates},
            )
            for m in r.months
        },
        "barriers": {b.value: shown(n) for b, n in f.barriers},
        "services": {s.value: shown(n) for s, n in f.services},
        "lead": {
            x.lead.value: (shown(x.cases), shown(x.median), shown(x.p90)) for x in f.lead_times
        },
        "recs": {
            "total": shown(rec.total),
            "states": {s.value: shown(n) for s, n in rec.states},
            "reasons": {(c.value if c else ""): shown(n) for c, n in rec.not_implemented},
            "due": shown(rec.due),
            "done": shown(rec.done),
            "rate": shown(rec.rate),
            "owners": {
                o.owner.value: (shown(o.due), shown(o.done), shown(o.rate)) for o in rec.owners
            },
        },
        "closing": {
            "closed": shown(f.closing.closed),
            "outcomes": {o.value: shown(n) for o, n in f.closing.outcomes},
            "back": shown(f.closing.brought_back),
        },
        "feedback": {
            "asked": shown(fb.asked),
            "answered": shown(fb.answered),
            "rate": shown(fb.response_rate),
            "mean": shown(fb.mean),
            "ratings": {rating: shown(n) for rating, n in fb.ratings},
        },
        "meetings": shown(f.meetings),
        "professions": {
            (p.profession.value if p.profession else ""): (shown(p.convened), shown(p.attended))
            for p in f.professions
        },
        "case_managers": f.case_managers,
        "load": sorted(
            ((row.name, shown(row.open_follow_ups)) for row in f.load), key=lambda x: x[0]
        ),
        "handovers": shown(f.handovers),
    }


# --- the properties ---------------------------------------------------------------------------


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=st.lists(lives(), max_size=10), when=periods())
def test_the_county_report_counts_what_happened(
    db: Db, histories: list[list[Life]], when: tuple[Period, datetime]
) -> None:
    period, now = when
    flat = [life for copies in histories for life in copies]
    db.store(flat)
    report = db.report(ADMIN, period, now)
    assert report.scope is Scope.COUNTY
    assert [team.name for team in report.teams] == sorted(TEAMS.values())
    whole = expected(flat, period, now)
    assert plain(report.whole) == whole
    shown_cells = sum(isinstance(v, int | float) for v in leaves(whole))
    event(f"shown cells: {'none' if not shown_cells else '1-20' if shown_cells <= 20 else '> 20'}")
    event(f"a median shown: {any(v[1] != '< 5' for v in whole['lead'].values())}")
    for team in report.teams:
        mine = [life for life in flat if life.team_id == team.team_id]
        assert plain(team.figures) == expected(mine, period, now), team.name


def test_lead_times_count_working_days_across_easter_and_the_weekend(db: Db) -> None:
    # Thursday before Easter 2026 to the Tuesday after: Good Friday, the weekend and
    # Easter Monday are not working days, so every decision took one working day; a
    # request at 00:30 on Monday (22:30 UTC on Sunday) counts from Monday in Helsinki.
    thursday = datetime(2026, 4, 2, 13, 0, tzinfo=HELSINKI)
    tuesday = datetime(2026, 4, 7, 9, 0, tzinfo=HELSINKI)
    monday_night = datetime(2026, 3, 30, 0, 30, tzinfo=HELSINKI)
    lives = [Life(1, 10, thursday, decision=("accepted", tuesday)) for _ in range(5)]
    lives += [Life(1, 10, monday_night, decision=("declined", tuesday)) for _ in range(5)]
    db.store(lives)
    now = datetime(2026, 4, 20, 12, 0, tzinfo=HELSINKI)
    report = db.report(COORDINATOR, Period.of(PeriodKind.THIS_MONTH, now.date()), now, [1])
    triage = report.whole.lead(Lead.TRIAGE)
    # Monday 30.3. -> Tuesday 7.4.: 31.3., 1.4., 2.4. and 7.4. are working days.
    assert (triage.cases, triage.median, triage.p90) == (10, 1, 4)


def test_a_coordinator_sees_only_their_teams_and_a_member_is_refused_politely(db: Db) -> None:
    db.store([Life(team, 10, BASE + timedelta(days=3)) for team in TEAMS for _ in range(6)])
    now = datetime(2026, 3, 20, 12, 0, tzinfo=HELSINKI)
    period = Period.of(PeriodKind.THIS_MONTH, now.date())
    mine = db.report(COORDINATOR, period, now)
    assert mine.scope is Scope.TEAMS and sorted(mine.team_ids) == [1, 2]
    assert mine.whole.requests.received == 12
    with pytest.raises(DomainError) as refused:
        db.report(COORDINATOR, period, now, [3])
    assert refused.value.code == "error.report_not_your_team"
    with pytest.raises(DomainError) as refused:
        db.report(MEMBER, period, now)
    assert refused.value.code == "error.report_coordinators_only"
    county = db.report(ADMIN, period, now)
    assert county.scope is Scope.COUNTY and county.whole.requests.received == 18

    async def audited() -> list[tuple[Any, ...]]:
        async with db.engine.connect() as connection:
            found = await connection.execute(
                select(audit_events.c.actor_user_id, audit_events.c.action, audit_events.c.details)
                .where(audit_events.c.subject_type == "report")
                .order_by(audit_events.c.id)
            )
            return [tuple(row) for row in found]

    trail = db.run(audited())
    assert [(actor, action) for actor, action, _ in trail] == [
        (COORDINATOR, "report.viewed"),
        (ADMIN, "report.viewed"),
    ]
    assert sorted(trail[0][2]["teams"]) == [1, 2] and trail[1][2]["scope"] == "county"
    assert trail[1][2]["period"] == "this_month"
