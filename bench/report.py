"""County report benchmark: an admin's report on every team of a county of 6 teams and
10 000 cases in every state, on SQLite and on PostgreSQL, against baselines measured in
the same run on the same database.

    python -m bench.report                       # SQLite file in a temporary directory
    python -m bench.report --postgres            # a throwaway PostgreSQL (Debian package)
    python -m bench.report --database-url postgresql+asyncpg://...   # an existing, empty DB
    # more options: --cases N (10000), --teams N (6), --repeat N (15), --seed N,
    #               --show (print the Finnish card's text)

The county is written straight into the tables (tests/support/histories.py): requests
over the two years before "now", with their transitions, polls and invitees, summaries
(some amended), recommendations in every status and owner type, case managers and
hand-overs, feedback. Then, each repeated and reported as median / min / max ms:

  count      SELECT count(*) FROM consultations  (one trivial statement: the floor)
  omat       consultations.intake.my_requests for the requester with the most requests
             (what `omat`/`my` reads and audits)
  report     consultations.reporting.run_report, admin, every team, last 12 months:
             authorisation, the aggregates, the figures, the audit record
  card       the same plus dialogs.cards.report.report_card in Finnish (what the user
             waits for), with its size in bytes
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.i18n import Texts
from consultations import intake
from consultations.calendar import BusinessCalendar
from consultations.consultation import Barrier, DeclineRoute, Outcome, Service
from consultations.model import Profession
from consultations.reporting import run_report
from consultations.reports import Period, PeriodKind, Report
from consultations.summary import NotImplementedReason, OutsideParty
from dialogs.cards.base import card_bytes
from dialogs.cards.report import decimal, percent, report_card
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.reports import SqlAlchemyReportSource
from storage.tables import consultations
from storage.uow import SqlAlchemyUnitOfWork
from tests.support.cards import texts
from tests.support.histories import HandOverDone, Invited, Life, Rec, rows, write

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=HELSINKI)
ADMIN = 1
ADMINS = frozenset({f"00000000-0000-0000-0000-{ADMIN:012d}"})
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2023, 2029)).keys())
)
TEAM_NAMES = ["Pohjoinen", "Etelä", "Itä", "Länsi", "Keski", "Rannikko", "Järviseutu", "Kaupunki"]
# Free text as long as a real request's (about 1.5 kB), so that reading the barriers and
# services out of the stored request costs what it would.
FILLER = (
    "Asiakkaan tilanne on pitkittynyt: sairauslomaa on takana yhdeksän kuukautta, ja "
    "työterveyshuolto on päättynyt työsuhteen mukana. Kuntoutustarve on arvioitava. "
) * 3
STAGES = [
    ("waiting", 3),
    ("asked", 2),
    ("withdrawn", 5),
    ("declined", 10),
    ("accepted", 4),
    ("meeting", 4),
    ("published", 35),
    ("closed", 32),
    ("back", 5),
]


def county(cases: int, team_count: int, seed: int) -> tuple[list[Life], dict[str, Any]]:
    """A county's history: `cases` requests over the two years before NOW."""
    rng = random.Random(seed)
    teams = {t + 1: f"Työkykytiimi {TEAM_NAMES[t % len(TEAM_NAMES)]}" for t in range(team_count)}
    people: dict[int, tuple[str, str | None]] = {ADMIN: ("Ylläpitäjä", None)}
    members: dict[int, list[int]] = {}
    professions = [p.value for p in Profession]
    next_user = 100
    for team_id in teams:
        members[team_id] = []
        for _ in range(10):
            people[next_user] = (f"Jäsen {next_user}", rng.choice([*professions, None]))
            members[team_id].append(next_user)
            next_user += 1
    requesters = list(range(next_user, next_user + 300))
    for user_id in requesters:
        people[user_id] = (f"Pyytäjä {user_id}", None)
    start = NOW - timedelta(days=730)
    stage_names = [name for name, _ in STAGES]
    weights = [weight for _, weight in STAGES]

    def gap(low_days: float, high_days: float) -> timedelta:
        return timedelta(minutes=rng.randint(int(low_days * 1440), int(high_days * 1440)))

    lives = []
    for _ in range(cases):
        team_id = rng.choice(list(teams))
        team = members[team_id]
        submitted = start + gap(0, 720)
        life = Life(
            team_id=team_id,
            requester_id=rng.choice(requesters),
            submitted=submitted,
            barriers=tuple(rng.sample([b.value for b in Barrier], rng.randint(0, 4))),
            services=tuple(rng.sample([s.value for s in Service], rng.randint(0, 4))),
        )
        stage = rng.choices(stage_names, weights)[0]
        if stage == "asked" or rng.random() < 0.1:
            life.asked_at = submitted + gap(0.1, 3)
        ready = (life.asked_at or submitted) + timedelta(minutes=2)
        decided = ready + gap(0, 8)
        if stage in ("withdrawn", "declined"):
            life.decision = (stage, decided)
            life.route = rng.choice([*[r.value for r in DeclineRoute], None])
        elif stage not in ("waiting", "asked"):
            life.decision = ("accepted", decided)
            if rng.random() < 0.05:
                life.poll_cancelled = decided + gap(1, 3)
        if stage in ("meeting", "published", "closed", "back"):
            assert life.decision is not None
            life.meeting = (life.poll_cancelled or decided) + gap(3, 20)
            life.invited = tuple(
                Invited(user, people[user][1], rng.random() < 0.85)
                for user in rng.sample(team, rng.randint(2, 5))
            )
        if stage in ("published", "closed", "back"):
            assert life.meeting is not None
            life.published = last = life.meeting + gap(0.05, 4)
            if rng.random() < 0.1:
                life.amended = last = life.published + gap(0.1, 5)
            life.recs = tuple(
                Rec(
                    due=life.published.date() + timedelta(days=rng.randint(7, 120)),
                    status=(
                        status := rng.choice(
                            [
                                "open",
                                "in_progress",
                                "done",
                                "done",
                                "done",
                                "not_implemented",
                                "removed",
                            ]
                        )
                    ),
                    owner_user_id=None
                    if (party := rng.choice([None, *OutsideParty]))
                    else rng.choice(team),
                    party=party.value if party else None,
                    category=rng.choice(list(NotImplementedReason)).value
                    if status == "not_implemented"
                    else None,
                )
                for _ in range(rng.randint(1, 6))
            )
            life.case_manager = rng.choice(team)
            if rng.random() < 0.1:
                last = last + gap(5, 40)
                others = [m for m in team if m != life.case_manager]
                life.handover = HandOverDone(rng.choice(others), last, rng.random() < 0.8)
            if rng.random() < 0.7:
                life.rating = rng.choices([1, 2, 3, 4, 5], [1, 2, 5, 10, 8])[0]
            end = last + gap(20, 200)
            if stage == "closed":
                life.end = ("closed", end, rng.choice(list(Outcome)).value)
            elif stage == "back":
                life.end = ("back", end, None)
                if rng.random() < 0.6:
                    life.second = (rng.choice(["accepted", "declined"]), end + gap(0, 5))
        lives.append(life)
    # Nothing happens after NOW: a life's later steps are cut off there.
    for life in lives:
        _cut(life, NOW)
    coordinators = [(team_id, team[0]) for team_id, team in members.items()]
    return lives, {"team_names": teams, "people": people, "coordinators": coordinators}


def _cut(life: Life, now: datetime) -> None:
    def after(moment: datetime | None) -> bool:
        return moment is not None and moment > now

    if life.second and after(life.second[1]):
        life.second = None
    if life.end and after(life.end[1]):
        life.end, life.second = None, None
    if life.handover and after(life.handover.answered_at):
        life.handover = None
    if after(life.amended):
        life.amended = None
    if after(life.published):
        life.published, life.recs, life.case_manager, life.rating = None, (), None, None
        life.amended, life.handover, life.end, life.second = None, None, None, None
    if after(life.meeting):
        life.meeting, life.invited = None, ()
    if after(life.poll_cancelled):
        life.poll_cancelled = None
    if life.decision and after(life.decision[1]):
        life.decision = None
        life.poll_cancelled = None
    if after(life.asked_at):
        life.asked_at = None
    if life.rating is not None and life.published and life.published + timedelta(days=29) > now:
        life.rating = None


async def timed(repeat: int, action: Callable[[], Awaitable[Any]]) -> tuple[list[float], Any]:
    result = await action()  # warm-up: statement caches, the calendar index
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = await action()
        samples.append((time.perf_counter() - began) * 1000)
    return samples, result


def line(name: str, samples: list[float], base: float, extra: str = "") -> str:
    median = statistics.median(samples)
    return (
        f"  {name:<7} median {median:8.1f} ms   min {min(samples):8.1f}   max {max(samples):8.1f}"
        f"   = {median / base:7.1f}x count{extra}"
    )


def figures_text(report: Report) -> str:
    """The county's main figures and the implementation rate by owner type."""
    t = Texts("fi")
    whole = report.whole
    rec = whole.recommendations
    lines = [
        f"  county {report.period.start}..{report.period.end}, {len(report.teams)} teams: "
        f"received {whole.requests.received}, "
        + ", ".join(f"{fate.value} {n}" for fate, n in whole.requests.fates),
        "  lead times (working days, median / p90): "
        + ", ".join(f"{x.lead.value} {x.median}/{x.p90}" for x in whole.lead_times),
        f"  recommendations due in the period {rec.total}; past due {rec.due}, done {rec.done},"
        f" implementation rate {percent(t, rec.rate)}",
        "  by owner type: "
        + "; ".join(f"{o.owner.value} {percent(t, o.rate)} ({o.done}/{o.due})" for o in rec.owners),
        "  by team: "
        + "; ".join(
            f"{team.name} {percent(t, team.figures.recommendations.rate)}" for team in report.teams
        ),
        f"  closed {whole.closing.closed}, brought back {whole.closing.brought_back}; feedback"
        f" asked {whole.feedback.asked}, answered {whole.feedback.answered},"
        f" mean {decimal(t, whole.feedback.mean)}; meetings {whole.meetings}",
    ]
    return "\n".join(lines)


async def run(url: str, cases: int, team_count: int, repeat: int, seed: int, show: bool) -> None:
    engine: AsyncEngine = create_engine(url)
    try:
        await upgrade(engine)
        lives, context = county(cases, team_count, seed)
        began = time.perf_counter()
        tables = rows(lives, **context, filler=FILLER)
        async with engine.begin() as connection:
            await write(connection, tables)
        written = sum(len(batch) for batch in tables.values())
        print(
            f"  wrote {written} rows for {len(lives)} cases in {time.perf_counter() - began:.1f} s"
        )
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
        sessions = session_factory(engine)
        source = SqlAlchemyReportSource(sessions)

        async def count() -> Any:
            async with sessions() as session:
                return (
                    await session.execute(select(func.count()).select_from(consultations))
                ).scalar()

        busiest = max(
            {life.requester_id for life in lives},
            key=lambda user: sum(life.requester_id == user for life in lives),
        )

        async def omat() -> Any:
            return await intake.my_requests(
                SqlAlchemyUnitOfWork(sessions), busiest, NOW, drafts=False, limit=25
            )

        period = Period.of(PeriodKind.LAST_12_MONTHS, NOW.date())

        async def report() -> Report:
            return await run_report(
                source,
                SqlAlchemyUnitOfWork(sessions),
                actor_id=ADMIN,
                period=period,
                team_ids=None,
                admins=ADMINS,
                now=NOW,
                calendar=CALENDAR,
            )

        t = Texts("fi")

        async def card() -> Any:
            return report_card(t, await report())

        base, counted = await timed(repeat, count)
        floor = statistics.median(base)
        own, listed = await timed(repeat, omat)
        full, county_report = await timed(repeat, report)
        shown, built = await timed(repeat, card)
        print(f"  consultations: {counted}; the busiest requester has {listed.page.total} requests")
        print(line("count", base, floor))
        print(line("omat", own, floor))
        print(
            line(
                "report",
                full,
                floor,
                f"   = {statistics.median(full) / statistics.median(own):.1f}x omat",
            )
        )
        print(line("card", shown, floor, f"   ({card_bytes(built)} bytes)"))
        print(figures_text(county_report))
        if show:
            print("  --- the card's text (fi) ---")
            print("\n".join(f"  | {line}" for line in texts(built).splitlines()))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url")
    parser.add_argument("--show", action="store_true", help="print the Finnish card's text")
    args = parser.parse_args()
    today = datetime.now(HELSINKI).date()
    print(f"python {platform.python_version()} on {platform.machine()}, {today}")
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url:
            url = args.database_url
        elif args.postgres:
            from tests.support.postgres import start_postgres

            server = start_postgres()
            server.psql("CREATE DATABASE bench")
            url = server.url("bench")
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'county.db'}"
        print(f"database: {url.split('://')[0]}; {args.cases} cases, {args.teams} teams")
        try:
            asyncio.run(run(url, args.cases, args.teams, args.repeat, args.seed, args.show))
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
