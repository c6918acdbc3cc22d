"""Lists at county scale, on SQLite and PostgreSQL: every total is the whole list's, pages
follow one another without gaps or repeats, and a case manager's list holds open cases
only, whatever old assignments the data still carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from consultations import case_manager, intake, services
from consultations.calendar import BusinessCalendar
from consultations.consultation import Outcome
from consultations.lists import MAX_PAGE
from storage.db import AsyncSession, create_engine, session_factory
from storage.migrate import upgrade
from storage.tables import case_managers, outbox
from storage.uow import SqlAlchemyUnitOfWork
from tests.support.histories import Life, Rec, rows, write

HELSINKI = ZoneInfo("Europe/Helsinki")
CALENDAR = BusinessCalendar(
    holidays=frozenset(holidays.country_holidays("FI", years=range(2025, 2029)).keys())
)
# Wednesday 9 December 2026, 10.00 in Helsinki.
NOW = datetime(2026, 12, 9, 10, 0, tzinfo=HELSINKI)
NORTH, SOUTH = 1, 2
COORDINATOR, MANAGER, REQUESTER = 1, 2, 3
PEOPLE: dict[int, tuple[str, str | None]] = {
    COORDINATOR: ("Outi Koordinaattori", None),
    MANAGER: ("Maija Asiakasvastaava", "social_worker"),
    REQUESTER: ("Reetta Pyytäjä", None),
}


async def _county(
    url: str, lives: list[Life], *, revision: str = "head"
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    engine = create_engine(url)
    await upgrade(engine, revision)
    async with engine.begin() as connection:
        await write(
            connection,
            rows(
                lives,
                team_names={NORTH: "Työkykytiimi Pohjoinen", SOUTH: "Työkykytiimi Etelä"},
                people=PEOPLE,
                coordinators=[(NORTH, COORDINATOR), (SOUTH, COORDINATOR)],
                members=[(NORTH, MANAGER)],
            ),
        )
    return engine, session_factory(engine)


@pytest.fixture
async def engines() -> AsyncIterator[list[AsyncEngine]]:
    made: list[AsyncEngine] = []
    yield made
    for engine in made:
        await engine.dispose()


def waiting(team: int, days_ago: float, asked: bool = False) -> Life:
    submitted = NOW - timedelta(days=days_ago)
    return Life(
        team_id=team,
        requester_id=REQUESTER,
        submitted=submitted,
        asked_at=submitted + timedelta(hours=1) if asked else None,
    )


def followed_up(manager: int, published_days_ago: int, *, closed: bool, recs: int = 2) -> Life:
    published = NOW - timedelta(days=published_days_ago)
    decided = published - timedelta(days=20)
    life = Life(
        team_id=NORTH,
        requester_id=REQUESTER,
        submitted=decided - timedelta(days=2),
        decision=("accepted", decided),
        meeting=published - timedelta(hours=2),
        published=published,
        case_manager=manager,
        recs=tuple(
            Rec(
                due=(published + timedelta(days=30 + i)).date(),
                status="open",
                owner_user_id=manager,
            )
            for i in range(recs)
        ),
    )
    if closed:
        life.end = ("closed", published + timedelta(days=60), Outcome.EMPLOYMENT.value)
    return life


async def test_the_queue_counts_every_waiting_request_and_pages_through_all_of_them_overdue_first(
    database_url: str, engines: list[AsyncEngine]
) -> None:
    # 60 waiting in the north (40 of them for weeks, 12 asked back, 8 from this morning)
    # and 5 in the south: more than the 50 a capped read used to stop at, counted as 50.
    lives = [waiting(NORTH, 30 + i) for i in range(40)]
    lives += [waiting(NORTH, 20 + i, asked=True) for i in range(12)]
    lives += [waiting(NORTH, 0.05) for _ in range(8)]
    lives += [waiting(SOUTH, 10) for _ in range(5)]
    engine, sessions = await _county(database_url, lives)
    engines.append(engine)

    def unit() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(sessions)

    pages = []
    offset = 0
    while True:
        view = await intake.triage_queue(
            unit(), COORDINATOR, NOW, CALENDAR, limit=MAX_PAGE, offset=offset
        )
        pages.append(view)
        offset = view.page.end
        if offset >= view.page.total:
            break
    # Both teams the coordinator holds: 65 in all, 45 of them overdue (asked back is not).
    assert [(v.page.total, v.overdue) for v in pages] == [(65, 45)] * 3
    assert [len(v.page.items) for v in pages] == [25, 25, 15]
    seen = [item.case.id for v in pages for item in v.page.items]
    assert len(seen) == len(set(seen)) == 65
    flags = [item.overdue for v in pages for item in v.page.items]
    # Overdue first (the card's own count of working days agrees with the database's).
    assert flags == [True] * 45 + [False] * 20
    first = pages[0].page.items
    waited = [item.working_days_waiting for item in first]
    assert waited == sorted(waited, reverse=True)


async def test_the_weekly_digest_reports_the_whole_queue_of_every_team(
    database_url: str, engines: list[AsyncEngine]
) -> None:
    lives = [waiting(NORTH, 30 + i) for i in range(120)] + [waiting(SOUTH, 0.05)]
    engine, sessions = await _county(database_url, lives)
    engines.append(engine)

    queued = await services.queue_weekly_digest(
        SqlAlchemyUnitOfWork(sessions),
        NOW,
        CALENDAR,
    )

    assert queued == 2
    async with engine.connect() as connection:
        payloads = (
            await connection.execute(select(outbox.c.payload).where(outbox.c.kind == "digest"))
        ).scalars()
        counts = {p["team_id"]: (p["open"], p["overdue"]) for p in payloads}
    assert counts == {NORTH: (120, 120), SOUTH: (1, 0)}


async def test_a_case_managers_list_holds_open_cases_only_whatever_old_assignments_remain(
    database_url: str, engines: list[AsyncEngine]
) -> None:
    # The manager's 60 oldest assignments are of cases closed long ago (and, as the data
    # written before closing ended them, still open); three cases are in follow-up.
    lives = [followed_up(MANAGER, 400 - i, closed=True) for i in range(60)]
    lives += [followed_up(MANAGER, 10 + i, closed=False, recs=3) for i in range(3)]
    engine, sessions = await _county(database_url, lives)
    engines.append(engine)

    view = await case_manager.my_cases(
        SqlAlchemyUnitOfWork(sessions),
        MANAGER,
        NOW,
        NOW.date(),
    )

    assert view.managed.total == 3
    assert sorted(m.case.id for m in view.managed.items) == [61, 62, 63]
    assert [len(m.recommendations) for m in view.managed.items] == [3, 3, 3]
    assert view.owned.total == 0 and not view.empty


async def test_closing_a_case_ends_its_case_managers_assignment(
    database_url: str, engines: list[AsyncEngine]
) -> None:
    engine, sessions = await _county(database_url, [followed_up(MANAGER, 10, closed=False)])
    engines.append(engine)

    def unit() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(sessions)

    assert (await case_manager.my_cases(unit(), MANAGER, NOW, NOW.date())).managed.total == 1
    await case_manager.close_case(unit(), MANAGER, 1, Outcome.EMPLOYMENT, NOW)

    async with engine.connect() as connection:
        until = (await connection.execute(select(case_managers.c.until))).scalar_one()
    assert until == NOW.astimezone(UTC)
    assert (await case_manager.my_cases(unit(), MANAGER, NOW, NOW.date())).empty


async def test_the_migration_ends_the_assignments_of_cases_already_closed(
    database_url: str, engines: list[AsyncEngine]
) -> None:
    closed = followed_up(MANAGER, 200, closed=True)
    still_open = followed_up(MANAGER, 10, closed=False)
    engine, _sessions = await _county(database_url, [closed, still_open], revision="0008")
    engines.append(engine)

    await upgrade(engine)

    async with engine.connect() as connection:
        ends = dict(
            (
                await connection.execute(
                    select(case_managers.c.consultation_id, case_managers.c.until)
                )
            ).all()
        )
    assert closed.end is not None
    assert ends == {1: closed.end[1].astimezone(UTC), 2: None}
