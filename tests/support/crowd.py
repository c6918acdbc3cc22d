"""A team of hundreds with a long history, written straight into the tables
(tests/support/histories.py): for tests of lists, searches and statement counts at the
scale of a county, where driving every request through the cards would take minutes.

Ids here match tests/support/activities.py: user n is `a.user(n)` ("29:user-n").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from consultations.consultation import Outcome
from consultations.model import Profession
from tests.support.histories import Invited, Life, Rec, rows, write

FIRST = (
    "Aino",
    "Eero",
    "Helmi",
    "Ilkka",
    "Johanna",
    "Kalle",
    "Laura",
    "Mikko",
    "Noora",
    "Olli",
    "Pirjo",
    "Riikka",
    "Sami",
    "Tuula",
    "Ville",
    "Åsa",
    "Östen",
)
LAST = (
    "Virtanen",
    "Korhonen",
    "Mäkinen",
    "Nieminen",
    "Mäkelä",
    "Hämäläinen",
    "Laine",
    "Heikkinen",
    "Koskinen",
    "Järvinen",
    "Öhman",
    "Åberg",
)
PROFESSIONS = [p.value for p in Profession]


def name_of(n: int) -> str:
    """A name for person n, different for the first 204 (17 first names, 12 surnames)."""
    return f"{FIRST[n % len(FIRST)]} {LAST[(n // len(FIRST)) % len(LAST)]}"


def people(ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """Users with names and, for two in three, a profession."""
    return {n: (name_of(n), PROFESSIONS[n % len(PROFESSIONS)] if n % 3 else None) for n in ids}


def waiting(team: int, requester: int, submitted: datetime, *, asked: bool = False) -> Life:
    """A request waiting for triage (or, asked, for the requester's answer)."""
    return Life(
        team_id=team,
        requester_id=requester,
        submitted=submitted,
        asked_at=submitted + timedelta(hours=1) if asked else None,
    )


def accepted(team: int, requester: int, decided: datetime) -> Life:
    """A request the coordinator accepted: the next step is a poll."""
    return Life(
        team_id=team,
        requester_id=requester,
        submitted=decided - timedelta(days=1),
        decision=("accepted", decided),
    )


def held(team: int, requester: int, meeting: datetime) -> Life:
    """A meeting fixed for the request and held at `meeting`: its summary is due."""
    decided = meeting - timedelta(days=14)
    return Life(
        team_id=team,
        requester_id=requester,
        submitted=decided - timedelta(days=1),
        decision=("accepted", decided),
        meeting=meeting,
    )


def followed_up(
    team: int,
    requester: int,
    manager: int,
    published: datetime,
    *,
    invited: Sequence[int] = (),
    recs: int = 2,
    closed: datetime | None = None,
    text_owner: int | None = None,
) -> Life:
    """A case whose summary is out (its recommendations open), managed by `manager`;
    closed at `closed` when given."""
    decided = published - timedelta(days=20)
    life = Life(
        team_id=team,
        requester_id=requester,
        submitted=decided - timedelta(days=2),
        decision=("accepted", decided),
        meeting=published - timedelta(hours=2),
        invited=tuple(Invited(u, None, True) for u in invited),
        published=published,
        case_manager=manager,
        recs=tuple(
            Rec(
                due=(published + timedelta(days=30 + i)).date(),
                status="open",
                owner_user_id=text_owner or manager,
            )
            for i in range(recs)
        ),
    )
    if closed is not None:
        life.end = ("closed", closed, Outcome.EMPLOYMENT.value)
    return life


async def seed(
    engine: AsyncEngine,
    lives: Sequence[Life],
    *,
    teams: dict[int, str],
    people: dict[int, tuple[str, str | None]],
    coordinators: Iterable[tuple[int, int]] = (),
    members: Iterable[tuple[int, int]] = (),
    filler: str = "",
) -> None:
    """Write the teams, people and lives into the bot's database (already migrated)."""
    async with engine.begin() as connection:
        await write(
            connection,
            rows(
                lives,
                team_names=teams,
                people=people,
                coordinators=coordinators,
                members=members,
                filler=filler,
            ),
        )
