"""Every list pages, with the true total of the whole list, as a coordinator of a busy team
reads it: `jono` with 60 requests waiting, `asiakkaat` with hundreds of cases to follow up
(most of the oldest long closed), `omat`, `luonnokset`, `toimitukset`. "Show more" answers
with the next page in place; a tampered page is refused; each card stays under Teams'
limit; and each command reads the database a fixed number of times whatever the page
holds (statements counted on the real app's engines, the command's own turn only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert

from bot.app import Components
from dialogs.cards.base import MAX_CARD_BYTES, card_bytes
from storage.tables import outbox
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.cards import actions, executes, texts
from tests.support.connector import LoopbackConnector
from tests.support.crowd import followed_up, held, people, seed, waiting
from tests.support.histories import Life

NORTH, SOUTH = 1, 2
COORDINATOR, REQUESTER, MEMBER = 1, 2, 3
NOW = datetime.now(UTC)
CARD = "application/vnd.microsoft.card.adaptive"


def chat(user: int) -> str:
    return f"a:personal-29:user-{user}"


@contextmanager
def statements(components: Components) -> Iterator[list[str]]:
    """The SQL the app sends while the block runs, on every engine it reads and writes
    through (SQLite's read-only connections are an engine of their own)."""
    seen: list[str] = []
    engines = [e for e in (components.engine, components.read_engine) if e is not None]

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:80])

    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", count)


async def busy_north(bot: RunningBot, *, waiting_requests: int = 60) -> None:
    """The north team: `waiting_requests` requests waiting (40 for weeks), the member
    manages 30 open follow-ups and 60 long-closed cases (their assignments, as the data
    written before closing ended them, still open); 73 meetings held wait for their
    summaries; the requester has 63 requests; 40 messages to the team were not
    delivered."""
    lives: list[Life] = [
        waiting(NORTH, REQUESTER, NOW - timedelta(days=30 + i) if i < 40 else NOW, asked=i % 7 == 6)
        for i in range(waiting_requests)
    ]
    lives += [
        followed_up(
            NORTH,
            REQUESTER,
            MEMBER,
            NOW - timedelta(days=900 - i),
            closed=NOW - timedelta(days=800 - i),
        )
        for i in range(60)
    ]
    lives += [
        followed_up(NORTH, REQUESTER, MEMBER, NOW - timedelta(days=30 + i), recs=6)
        for i in range(30)
    ]
    lives += [waiting(SOUTH, MEMBER, NOW - timedelta(days=3)) for _ in range(3)]
    # Meetings held, their summaries not written: 3 of the requester's, 70 of another's.
    lives += [
        held(NORTH, REQUESTER if i < 3 else 4, NOW - timedelta(days=2, hours=i)) for i in range(73)
    ]
    await seed(
        bot.components.engine,
        lives,
        teams={NORTH: "Työkykytiimi Pohjoinen", SOUTH: "Työkykytiimi Etelä"},
        people=people(range(1, 10)),
        coordinators=[(NORTH, COORDINATOR)],
        members=[(NORTH, MEMBER), (NORTH, 4), (SOUTH, MEMBER)],
        filler="Asiakkaan tilanne on pitkittynyt ja kuntoutustarve on arvioitava. " * 20,
    )
    # Drafts of the requester's own, and deliveries given up on.
    async with bot.components.engine.begin() as connection:
        await connection.execute(
            insert(outbox),
            [
                {
                    "idempotency_key": f"dead-{i}",
                    "kind": "poll.nudge",
                    "subject": "",
                    "recipient_type": "user",
                    "recipient_id": str(MEMBER),
                    "team_id": NORTH,
                    "payload": {},
                    "due_at": NOW - timedelta(hours=i),
                    "status": "dead",
                    "attempts": 6,
                    "last_error": "recipient unreachable",
                    "created_at": NOW - timedelta(days=1),
                }
                for i in range(40)
            ],
        )


async def drafts(bot: RunningBot, url: str, count: int) -> None:
    for i in range(count):
        await bot.invoke(
            a.execute(
                url,
                a.user(REQUESTER),
                "request.save",
                {"page": "basics", "client_reference": f"LU-{i:02d}", "consent": "not_yet"},
            )
        )


async def command(
    bot: RunningBot, fake: LoopbackConnector, url: str, user: int, words: str, locale: str = "fi-FI"
) -> dict[str, Any]:
    before = len(fake.cards(chat(user)))
    response = await bot.post(a.text(url, a.user(user), words, locale))
    assert response.status in (200, 201), await response.text()
    cards = fake.cards(chat(user))
    assert len(cards) == before + 1, fake.texts(chat(user))
    return cards[-1]


async def more(
    bot: RunningBot, url: str, user: int, card: dict[str, Any], locale: str = "fi-FI"
) -> Any:
    button = next(
        x for x in executes(card) if x["title"] in ("Näytä lisää", "Visa fler", "Show more")
    )
    body = await bot.invoke(a.execute(url, a.user(user), button["verb"], button["data"], locale))
    assert body["type"] == CARD, body
    return body["value"]


def cases_in(card: dict[str, Any]) -> list[int]:
    return [x["data"]["case_id"] for x in executes(card) if x["verb"] == "triage.open"]


@pytest.fixture
async def north(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> tuple[RunningBot, LoopbackConnector, str]:
    fake, url = connector
    bot = await make_bot()
    await busy_north(bot)
    return bot, fake, url


async def test_the_queue_pages_through_every_waiting_request_with_the_true_totals(
    north: tuple[RunningBot, LoopbackConnector, str],
) -> None:
    bot, fake, url = north
    first = await command(bot, fake, url, COORDINATOR, "jono")
    shown = texts(first)
    assert "60 pyyntöä jonossa" in shown
    # 40 waited for weeks; those asked back wait for the requester, not the coordinator.
    assert "35 pyyntöä myöhässä" in shown
    assert "Näytetään 1–25/60." in shown
    second = await more(bot, url, COORDINATOR, first)
    assert "Näytetään 26–50/60." in texts(second)
    third = await more(bot, url, COORDINATOR, second)
    assert "Näytetään 51–60/60." in texts(third)
    assert [x["title"] for x in executes(third) if x["verb"] == "request.queue"] == ["Alkuun"]
    seen = cases_in(first) + cases_in(second) + cases_in(third)
    assert len(seen) == len(set(seen)) == 60
    for card in (first, second, third):
        assert card_bytes(card) <= MAX_CARD_BYTES


@pytest.mark.parametrize("offset", [-1, "x", "25 ", 10**7, True, 2.5, [25], {"n": 1}])
async def test_a_tampered_page_is_refused(
    north: tuple[RunningBot, LoopbackConnector, str], offset: Any
) -> None:
    bot, _fake, url = north
    for verb, data in [
        ("request.queue", {"offset": offset}),
        ("request.my", {"offset": offset}),
        ("deliveries.open", {"offset": offset}),
        ("cases.open", {"section": "managed", "offset": offset}),
    ]:
        body = await bot.invoke(a.execute(url, a.user(COORDINATOR), verb, data))
        assert body["type"] == "application/vnd.microsoft.activity.message", (verb, body)
    refused = await bot.invoke(
        a.execute(url, a.user(MEMBER), "cases.open", {"section": "everything", "offset": 0})
    )
    assert refused["type"] == "application/vnd.microsoft.activity.message"


async def test_a_page_past_the_end_says_so_and_leads_back_to_the_start(
    north: tuple[RunningBot, LoopbackConnector, str],
) -> None:
    bot, _fake, url = north
    body = await bot.invoke(a.execute(url, a.user(COORDINATOR), "request.queue", {"offset": 500}))
    card = body["value"]
    assert "lista on lyhentynyt" in texts(card)
    assert actions(card)["request.queue"]["data"]["offset"] == 0


async def test_a_case_managers_list_shows_open_cases_and_every_part_pages(
    north: tuple[RunningBot, LoopbackConnector, str],
) -> None:
    bot, fake, url = north
    first = await command(bot, fake, url, MEMBER, "asiakkaat")
    shown = texts(first)
    # Not the 60 closed ones at the head of the assignments: the 30 open follow-ups.
    assert "Tapaukset, joissa olet asiakasvastaava (30)" in shown
    assert "Näytetään 1–10/30." in shown
    assert card_bytes(first) <= MAX_CARD_BYTES
    managed = await more(bot, url, MEMBER, first)
    assert "Tapaukset, joissa olet asiakasvastaava (30)" in texts(managed)
    assert card_bytes(managed) <= MAX_CARD_BYTES
    # Six open recommendations each: four listed with their buttons, the rest counted.
    assert "Lisäksi 2 avointa suositusta" in texts(managed)
    assert "Kaikki seurattavat" in {x["title"] for x in executes(managed)}


async def test_meetings_waiting_for_their_summary_are_counted_and_page(
    north: tuple[RunningBot, LoopbackConnector, str],
) -> None:
    bot, fake, url = north
    first = await command(bot, fake, url, COORDINATOR, "asiakkaat")
    assert "Näytetään 1–5/73." in texts(first)
    assert card_bytes(first) <= MAX_CARD_BYTES
    due = await more(bot, url, COORDINATOR, first)
    assert "Pidetyt konsultaatiot, joiden yhteenveto puuttuu (73)" in texts(due)
    assert sum(x["verb"] == "summary.open" for x in executes(due)) == 25
    assert card_bytes(due) <= MAX_CARD_BYTES


@pytest.mark.parametrize(
    ("locale", "total", "range_", "more_title"),
    [
        ("fi-FI", "Omat pyyntöni", "Näytetään 1–25/40.", "Näytä lisää"),
        ("sv-FI", "Mina begäranden", "Visar 1–25 av 40.", "Visa fler"),
        ("en-US", "My requests", "Showing 1–25 of 40.", "Show more"),
    ],
)
async def test_my_requests_page_in_every_language(
    make_bot: BotFactory,
    connector: tuple[LoopbackConnector, str],
    locale: str,
    total: str,
    range_: str,
    more_title: str,
) -> None:
    fake, url = connector
    bot = await make_bot()
    await seed(
        bot.components.engine,
        [waiting(NORTH, REQUESTER, NOW - timedelta(days=i + 1)) for i in range(40)],
        teams={NORTH: "Työkykytiimi Pohjoinen"},
        people=people([COORDINATOR, REQUESTER]),
        coordinators=[(NORTH, COORDINATOR)],
    )
    mine = await command(bot, fake, url, REQUESTER, "omat", locale)
    assert mine["body"][0]["text"] == total
    assert range_ in texts(mine)
    rest = await more(bot, url, REQUESTER, mine, locale)
    assert sum(x["verb"] == "request.withdraw" for x in executes(rest)) == 15
    assert more_title not in {x["title"] for x in executes(rest)}


async def test_undelivered_messages_page_newest_first(
    north: tuple[RunningBot, LoopbackConnector, str],
) -> None:
    bot, fake, url = north
    first = await command(bot, fake, url, COORDINATOR, "toimitukset")
    assert "Näytetään 1–25/40." in texts(first)
    rest = await more(bot, url, COORDINATOR, first)
    assert "Näytetään 26–40/40." in texts(rest)


# --- statements per command ---------------------------------------------------------------

# The most statements each command's turn may send, whatever its page holds: SQLite counts
# its BEGINs (one on the read-only connection, one on the writer for the audit record).
BOUNDS = {"jono": 5, "asiakkaat": 11, "omat": 5, "luonnokset": 4, "toimitukset": 4}


@pytest.mark.parametrize("words", list(BOUNDS))
async def test_each_command_reads_the_database_a_fixed_number_of_times(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], database_url: str, words: str
) -> None:
    fake, url = connector
    bot = await make_bot(database_url)
    await busy_north(bot)
    await drafts(bot, url, 30)
    user = {"jono": COORDINATOR, "toimitukset": COORDINATOR, "asiakkaat": COORDINATOR}.get(
        words, REQUESTER
    )
    # The first turn records the sender; the command's own turn is the second.
    await command(bot, fake, url, user, "apua")

    with statements(bot.components) as seen:
        card = await command(bot, fake, url, user, words)

    assert len(seen) <= BOUNDS[words], "\n".join(seen)
    assert any(x["title"] == "Näytä lisää" for x in executes(card)), texts(card)
    # The same for a bigger page of the queue: the count does not grow with the rows.
    if words == "jono":
        with statements(bot.components) as again:
            await more(bot, url, user, card)
        assert len(again) <= BOUNDS[words], "\n".join(again)
