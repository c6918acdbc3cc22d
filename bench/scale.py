"""County scale: the bot on a county's history (6 teams, 300 users, 10 000 cases in every
state, polls, summaries and recommendations, 100 000 outbox rows, 50 000 audit events) against
the same teams and people with no history, on SQLite and on PostgreSQL.

    python -m bench.scale                     # SQLite files in a temporary directory
    python -m bench.scale --postgres          # a throwaway PostgreSQL (Debian package)
    # more options: --users N (16), --duration S (30, each load window), --warmup S (3),
    #               --think S (1.0, each user's pause between an answer and the next command),
    #               --due N (messages falling due during each tick-on window, 600),
    #               --repeat N (15, each command), --seed N, --json FILE

The history is written straight into the tables (tests/support/histories.py) at schema
0008, as the bot before 0009 left it (case managers of closed cases still assigned), and
then migrated. The bot runs in a process of its own (bot.app.create_app, the real
scheduler when the tick is on, at its default interval), the Bot Connector in another
(tests/support/connector.py), the load in this one. Measured, on each database:

  migration   0009 on the county: seconds, assignments of finished cases it ended
  startup     spawn to serving (imports, migrations, keys), big and empty, tick on
  idle CPU    the bot's CPU over 10 s with nothing to do, tick on
  commands    jono (the largest team's coordinator: 1 500 waiting), asiakkaat (the same
              coordinator: ~200 open follow-ups, 600 closed before), omat (that team's
              busiest requester): HTTP time of the typed command's turn (median, min,
              max over --repeat), SQL statements of the turn, the card's size; tick off
  digest      consultations.services.queue_weekly_digest's counts per team against an
              independent count of the tables
  load        N users each typing jono / asiakkaat / omat in turn, one request in flight
              each: turns/s, p50, p99, max, turns over 1 s; on the big and the empty
              database, tick on (--due messages falling due during the window, sent by
              the tick through the connector) and tick off, each run on a fresh process
  memory      the bot's peak RSS (VmHWM) after the big tick-on run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select, text, update

from bench.fanout import machine
from bench.vote_turn import SQL, Server, _connector_app, percentile
from dialogs.cards.base import card_bytes
from tests.support import activities as a
from tests.support.histories import Invited, Life, Rec, rows, write

TEAMS = {
    1: "Työkykytiimi Kaupunki",
    2: "Työkykytiimi Pohjoinen",
    3: "Työkykytiimi Etelä",
    4: "Työkykytiimi Itä",
    5: "Työkykytiimi Länsi",
    6: "Työkykytiimi Rannikko",
}
LARGEST = 1
MEMBERS = {t: list(range(100 * t, 100 * t + 40)) for t in TEAMS}  # 240 members
REQUESTERS = list(range(1000, 1060))  # 60 requesters: 300 users
COORDINATOR = MEMBERS[LARGEST][0]  # manages ~200 open follow-ups (and 600 closed before)
LOAD_USERS = MEMBERS[LARGEST][:32]  # coordinators of the largest team, one per virtual user
PROFESSIONS = [
    "physician",
    "nurse",
    "social_worker",
    "psychologist",
    "physiotherapist",
    "occupational_therapist",
    None,
]
# What happens to the 10 000 requests (the waiting are 1 500 in the largest team, 100
# in each other).
STATES = {
    "declined": 700,
    "withdrawn": 300,
    "accepted": 300,
    "scheduled": 700,
    "follow_up": 1_500,
    "closed": 4_000,
    "back": 500,
}
WAITING = {t: 1_500 if t == LARGEST else 100 for t in TEAMS}
COMMANDS = ("jono", "asiakkaat", "omat")
# What a list card says of its totals ("1500 pyyntöä jonossa", "(216)", "1–25/216").
TOTALS = re.compile(r"\d+/\d+|\(\d+\)|jonossa|myöhässä")
CARD = "application/vnd.microsoft.card.adaptive"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60)
FILLER = (
    "Asiakkaan tilanne on pitkittynyt: sairauslomaa on takana yhdeksän kuukautta, ja "
    "työterveyshuolto on päättynyt työsuhteen mukana. Kuntoutustarve on arvioitava. "
) * 3


# --- the county ------------------------------------------------------------------------------


def county(now: datetime, seed: int) -> tuple[list[Life], dict[str, Any]]:
    rng = random.Random(seed)

    def ago(low_days: float, high_days: float) -> datetime:
        return now - timedelta(minutes=rng.randint(int(low_days * 1440), int(high_days * 1440)))

    def team_for_rest() -> int:
        return LARGEST if rng.random() < 0.3 else rng.choice([t for t in TEAMS if t != LARGEST])

    def recs(team: int, published: datetime) -> tuple[Rec, ...]:
        chosen = []
        for _ in range(rng.randint(1, 6)):
            party = rng.random() < 0.25
            chosen.append(
                Rec(
                    due=(published + timedelta(days=rng.randint(7, 120))).date(),
                    status=rng.choice(["open", "open", "in_progress", "done", "done", "removed"]),
                    owner_user_id=None if party else rng.choice(MEMBERS[team]),
                    party="kela" if party else None,
                )
            )
        return tuple(chosen)

    lives: list[Life] = []
    for team, count in WAITING.items():
        for _ in range(count):
            submitted = ago(0, 60)
            life = Life(team, rng.choice(REQUESTERS), submitted)
            if rng.random() < 0.1:
                life.asked_at = submitted + timedelta(hours=1)
            lives.append(life)
    managed_open = managed_closed = 0
    for state, count in STATES.items():
        for _ in range(count):
            team = team_for_rest()
            ours = team == LARGEST
            if state in ("follow_up", "closed", "back"):
                published = ago(1, 300) if state == "follow_up" else ago(400, 700)
                decided = published - timedelta(days=rng.randint(10, 30))
            else:
                decided = ago(0, 200)
                published = decided
            life = Life(
                team,
                rng.choice(REQUESTERS),
                decided - timedelta(days=rng.randint(1, 5)),
                decision=("accepted", decided),
            )
            if state in ("declined", "withdrawn"):
                life.decision = (state, decided)
                life.route = "kela" if state == "declined" else None
            elif state == "scheduled":
                life.meeting = now + timedelta(days=rng.randint(-30, 20), hours=rng.randint(0, 6))
                life.decision = ("accepted", min(decided, life.meeting - timedelta(days=3)))
            if state in ("follow_up", "closed", "back"):
                life.meeting = published - timedelta(hours=2)
                life.invited = tuple(
                    Invited(u, None, rng.random() < 0.85)
                    for u in rng.sample(MEMBERS[team], rng.randint(2, 5))
                )
                life.published = published
                if rng.random() < 0.1:
                    life.amended = published + timedelta(days=1)
                life.recs = recs(team, published)
                manager = rng.choice(MEMBERS[team][1:])
                if ours and state == "follow_up" and managed_open < 216:
                    manager, managed_open = COORDINATOR, managed_open + 1
                if ours and state == "closed" and managed_closed < 600:
                    manager, managed_closed = COORDINATOR, managed_closed + 1
                life.case_manager = manager
                if rng.random() < 0.6:
                    life.rating = rng.randint(1, 5)
                if state == "closed":
                    life.end = (
                        "closed",
                        published + timedelta(days=rng.randint(30, 200)),
                        "employment",
                    )
                elif state == "back":
                    back = published + timedelta(days=rng.randint(30, 200))
                    life.end = ("back", back, None)
                    life.second = (rng.choice(["accepted", "declined"]), back + timedelta(days=2))
            lives.append(life)
    people: dict[int, tuple[str, str | None]] = {}
    for team, members in MEMBERS.items():
        for i, user in enumerate(members):
            people[user] = (f"Jäsen {team}-{i:02d}", PROFESSIONS[user % len(PROFESSIONS)])
    for user in REQUESTERS:
        people[user] = (f"Pyytäjä {user}", None)
    coordinators = [(LARGEST, u) for u in LOAD_USERS] + [
        (t, m) for t in TEAMS if t != LARGEST for m in MEMBERS[t][:2]
    ]
    members = [(t, m) for t, ms in MEMBERS.items() for m in ms]
    context = {
        "team_names": TEAMS,
        "people": people,
        "coordinators": coordinators,
        "members": members,
    }
    return lives, context


def outbox_rows(now: datetime, seed: int, count: int) -> list[dict[str, Any]]:
    """A county's sent history: replies and reminders long sent, some cancelled, some
    given up on, a few thousand due in the days to come."""
    rng = random.Random(seed)
    users = [m for ms in MEMBERS.values() for m in ms]
    kinds = ["triage.request", "triage.reminder", "poll.invite", "poll.nudge", "summary.published"]
    made = []
    for i in range(count):
        roll = rng.random()
        status, due = "sent", now - timedelta(minutes=rng.randint(60, 700 * 1440))
        if roll < 0.02:
            status = "cancelled"
        elif roll < 0.03:
            status = "dead"
        elif roll < 0.05:
            status, due = "pending", now + timedelta(minutes=rng.randint(60, 30 * 1440))
        user = rng.choice(users)
        made.append(
            {
                "idempotency_key": f"history:{i}",
                "kind": rng.choice(kinds),
                "subject": f"case:{rng.randint(1, 10_000)}",
                "recipient_type": "user",
                "recipient_id": str(user),
                "team_id": user // 100,
                "payload": {} if status != "pending" else {"case_id": rng.randint(1, 2000)},
                "due_at": due,
                "status": status,
                "attempts": 1 if status == "sent" else (8 if status == "dead" else 0),
                "last_error": "recipient unreachable" if status == "dead" else None,
                "created_at": due - timedelta(minutes=1),
                "sent_at": due if status == "sent" else None,
            }
        )
    return made


def audit_rows(now: datetime, seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed + 1)
    actions = ["consultation.viewed", "consultation.queue_viewed", "cases.viewed", "poll.viewed"]
    return [
        {
            "at": now - timedelta(minutes=rng.randint(1, 700 * 1440)),
            "actor_user_id": rng.choice(MEMBERS[rng.choice(list(TEAMS))]),
            "action": rng.choice(actions),
            "subject_type": "consultation",
            "subject_id": str(rng.randint(1, 10_000)),
            "team_id": rng.choice(list(TEAMS)),
            "details": {},
        }
        for _ in range(count)
    ]


async def build(url: str, *, history: bool, seed: int, now: datetime) -> dict[str, Any]:
    """Write the county (or, without history, its teams and people) and migrate it from
    0008 to the newest schema; what it took."""
    from storage.db import create_engine
    from storage.migrate import upgrade
    from storage.tables import audit_events, case_managers, outbox

    engine = create_engine(url)
    facts: dict[str, Any] = {}
    try:
        await upgrade(engine, "0008")
        lives, context = county(now, seed)
        began = time.perf_counter()
        tables = rows(lives if history else [], **context, filler=FILLER)
        async with engine.begin() as connection:
            await write(connection, tables)
            if history:
                for table, made in (
                    (outbox, outbox_rows(now, seed, 100_000)),
                    (audit_events, audit_rows(now, seed, 50_000)),
                ):
                    for start in range(0, len(made), 5000):
                        await connection.execute(insert(table), made[start : start + 5000])
        facts["rows_written"] = sum(len(batch) for batch in tables.values()) + (
            150_000 if history else 0
        )
        facts["write_s"] = time.perf_counter() - began
        facts["tables"] = {table.name: len(batch) for table, batch in tables.items() if batch} | (
            {"outbox": 100_000, "audit_events": 50_000} if history else {}
        )
        ended = select(func.count()).where(case_managers.c.until.is_not(None))
        async with engine.connect() as connection:
            before = (await connection.execute(ended)).scalar_one()
        began = time.perf_counter()
        await upgrade(engine)
        facts["migration_s"] = time.perf_counter() - began
        async with engine.connect() as connection:
            facts["assignments_ended"] = (await connection.execute(ended)).scalar_one() - before
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
    finally:
        await engine.dispose()
    return facts


async def point_users_at(url: str, connector: str) -> None:
    """Everyone reachable through this run's connector, their 1:1 chats known."""
    from storage.db import create_engine
    from storage.tables import users

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(users).values(
                    service_url=connector,
                    tenant_id=a.TENANT,
                    bot_id=a.BOT_ID,
                    personal_conversation_id="a:personal-" + users.c.teams_user_id,
                )
            )
    finally:
        await engine.dispose()


async def queue_due(url: str, count: int, within: float, run: str) -> None:
    """`count` messages falling due over the next `within` seconds (digests and role
    notices: they render on the empty database as on the big one)."""
    from storage.db import create_engine
    from storage.tables import outbox

    engine = create_engine(url)
    now = datetime.now(UTC)
    rng = random.Random(run)
    users = [m for ms in MEMBERS.values() for m in ms]
    made = []
    for i in range(count):
        user = rng.choice(users)
        team = user // 100
        digest = i % 2 == 0
        made.append(
            {
                "idempotency_key": f"{run}:{i}",
                "kind": "digest" if digest else "role.granted",
                "subject": "",
                "recipient_type": "user",
                "recipient_id": str(user),
                "team_id": team,
                "payload": {"team_id": team, "week": "2026-W50", "open": 3, "overdue": 1}
                if digest
                else {"team_id": team, "role": "coordinator"},
                "due_at": now + timedelta(seconds=within * i / max(count, 1)),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
        )
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(outbox), made)
    finally:
        await engine.dispose()


async def digest_counts(url: str) -> list[dict[str, Any]]:
    """The weekly digest's counts per team (queued into a database thrown away after),
    beside an independent count of the same tables."""
    from bot.app import finnish_calendar
    from consultations import services
    from storage.db import create_engine, session_factory
    from storage.tables import consultations, outbox
    from storage.uow import SqlAlchemyUnitOfWork

    engine = create_engine(url)
    try:
        now = datetime.now(UTC)
        await services.queue_weekly_digest(
            SqlAlchemyUnitOfWork(session_factory(engine)), now, finnish_calendar()
        )
        async with engine.connect() as connection:
            payloads = list(
                (
                    await connection.execute(
                        select(outbox.c.payload).where(
                            outbox.c.kind == "digest", outbox.c.idempotency_key.like("digest:%")
                        )
                    )
                ).scalars()
            )
            waiting = dict(
                (
                    await connection.execute(
                        select(consultations.c.team_id, func.count())
                        .where(consultations.c.status.in_(["submitted", "needs_info"]))
                        .group_by(consultations.c.team_id)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    by_team: dict[int, dict[str, Any]] = {}
    for payload in payloads:
        by_team[payload["team_id"]] = {**payload, "counted": waiting.get(payload["team_id"], 0)}
    return [by_team[t] for t in sorted(by_team)]


# --- the processes ---------------------------------------------------------------------------


def _bot_app(database_url: str, port: int, tick: bool) -> Any:
    from aiohttp import web
    from sqlalchemy import event

    from bot.app import COMPONENTS, create_app
    from bot.settings import Settings

    app = create_app(Settings(database_url=database_url, run_scheduler=tick, port=port))

    async def count_sql(app: web.Application) -> None:
        components = app[COMPONENTS]

        def statement(*_args: Any) -> None:
            SQL["statements"] += 1

        for engine in (components.engine, components.read_engine):
            if engine is not None:
                event.listen(engine.sync_engine, "before_cursor_execute", statement)

    app.on_startup.append(count_sql)  # after create_app's own start-up
    return app


def _app(kind: str, port: int, options: dict[str, Any]) -> Any:
    """The aiohttp app of one of this bench's processes (bench.vote_turn.Server runs it)."""
    if kind == "connector":
        return _connector_app([])
    return _bot_app(options["database_url"], port, options["tick"])


def _server(kind: str, **options: Any) -> Server:
    """A process of this bench; writing the county can keep a start-up busy for minutes."""
    return Server(kind, build=_app, start_timeout=300, **options)


async def _json(http: aiohttp.ClientSession, method: str, url: str) -> dict[str, Any]:
    async with http.request(method, url) as response:
        return await response.json()  # type: ignore[no-any-return]


# --- the measurements ------------------------------------------------------------------------


async def commands(bot: str, connector: str, repeat: int, requester: int) -> dict[str, Any]:
    """Each command typed `repeat` times by one user, one at a time (the tick is off, so
    the statements counted are the turn's own)."""
    who = {"jono": COORDINATOR, "asiakkaat": COORDINATOR, "omat": requester}
    found: dict[str, Any] = {}
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        for word, user in who.items():
            sender = a.user(user)
            # The first turn records the sender; those measured are the later ones.
            async with http.post(f"{bot}/api/messages", json=a.text(connector, sender, "apua")):
                pass
            samples, counts = [], []
            card: dict[str, Any] = {}
            for _ in range(repeat + 1):
                before = (await _json(http, "GET", f"{bot}/bench/cpu")).get("statements", 0)
                began = time.perf_counter()
                body = a.text(connector, sender, word)
                async with http.post(f"{bot}/api/messages", json=body) as response:
                    await response.read()
                    if response.status not in (200, 201):
                        raise RuntimeError(f"{word} answered {response.status}")
                samples.append((time.perf_counter() - began) * 1000)
                after = (await _json(http, "GET", f"{bot}/bench/cpu")).get("statements", 0)
                counts.append(after - before)
                chat = f"a:personal-29:user-{user}"
                async with http.get(f"{connector}/bench/cards", params={"conversation": chat}) as r:
                    sent = await r.json()
                card = sent[-1] if sent else {}
                # Teams lets a chat have 7 messages a second: faster, the limit would wait.
                await asyncio.sleep(0.2)
            async with http.post(f"{connector}/bench/clear") as response:
                await response.read()
            # The first of each is reported apart: it compiles the statements it runs.
            first, samples = samples[0], samples[1:]
            found[word] = {
                "user": user,
                "first_ms": first,
                "median_ms": statistics.median(samples),
                "min_ms": min(samples),
                "max_ms": max(samples),
                "statements": max(counts),
                "card_bytes": card_bytes(card),
                "says": [t for t in card_texts(card) if TOTALS.search(t)][:4],
            }
    return found


def card_texts(card: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock" and len(str(node.get("text", ""))) < 90:
                found.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


async def load(
    bot: str, connector: str, users: int, warmup: float, duration: float, think: float
) -> dict[str, Any]:
    """`users` users typing commands: each sends one, reads the answer, and types the
    next `think` seconds later (people do not type faster than that, and Teams lets a
    conversation have 60 messages in 30 s: without a pause the rate limit, not the
    bot, would set the pace). They start spread over the first `think` seconds."""
    latencies: list[float] = []
    failed = 0
    loop = asyncio.get_running_loop()
    senders = [a.user(u) for u in LOAD_USERS[:users]]
    async with (
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as control,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=HTTP_TIMEOUT
        ) as http,
    ):
        for sender in senders:  # each recorded once, as a real user would be already
            async with http.post(f"{bot}/api/messages", json=a.text(connector, sender, "apua")):
                pass
        start = loop.time()
        window_start, window_end = start + warmup, start + warmup + duration

        async def user(i: int) -> None:
            nonlocal failed
            await asyncio.sleep(think * i / max(users, 1))
            for k in range(10_000_000):
                t0 = loop.time()
                if t0 >= window_end:
                    return
                word = COMMANDS[(i + k) % len(COMMANDS)]
                body = a.text(connector, senders[i], word)
                try:
                    async with http.post(f"{bot}/api/messages", json=body) as response:
                        await response.read()
                        ok = response.status in (200, 201)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                t1 = loop.time()
                if window_start <= t1 <= window_end:
                    if ok:
                        latencies.append(t1 - t0)
                    else:
                        failed += 1
                await asyncio.sleep(think)

        first = await _json(control, "GET", f"{bot}/bench/cpu")
        await asyncio.gather(*(user(i) for i in range(users)))
        last = await _json(control, "GET", f"{bot}/bench/cpu")
        async with control.post(f"{connector}/bench/clear") as response:
            received = (await response.json())["received"]
    latencies.sort()
    return {
        "turns_per_s": len(latencies) / duration,
        "turns": len(latencies),
        "failed": failed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "over_1s": sum(1 for x in latencies if x > 1.0),
        "connector_received": received,
        "bot_cpu_s": last["cpu_s"] - first["cpu_s"],
        "rss_mb": last["rss_mb"],
    }


async def one_database(
    label: str, big: str, empty: str, args: argparse.Namespace, now: datetime
) -> dict[str, Any]:
    result: dict[str, Any] = {"database": label}
    print(f"\n== {label}", flush=True)
    result["build"] = b = await build(big, history=True, seed=args.seed, now=now)
    result["build_empty"] = await build(empty, history=False, seed=args.seed, now=now)
    print(
        f"  county: {b['rows_written']} rows in {b['write_s']:.1f} s; migration 0009 "
        f"{b['migration_s']:.2f} s, ended {b['assignments_ended']} assignments of finished cases",
        flush=True,
    )
    print(f"  tables: {b['tables']}", flush=True)
    connector = _server("connector")
    runs: dict[str, Any] = {}
    try:
        for url in (big, empty):
            await point_users_at(url, connector.url)
        requester = await busiest(big)
        # Commands with the tick off: the statements counted are the turn's own.
        bot = _server("bot", database_url=big, tick=False)
        try:
            result["commands"] = await commands(bot.url, connector.url, args.repeat, requester)
        finally:
            bot.stop()
        for word, c in result["commands"].items():
            print(
                f"  {word:<9} median {c['median_ms']:6.1f} ms  min {c['min_ms']:6.1f}  "
                f"max {c['max_ms']:6.1f}  (first {c['first_ms']:6.1f})  statements "
                f"{c['statements']}  card {c['card_bytes']} B"
                f"  | {' | '.join(c['says'])}",
                flush=True,
            )
        for name, url in (("big", big), ("empty", empty)):
            for tick in (True, False):
                key = f"{name}, tick {'on' if tick else 'off'}"
                if tick:
                    within = args.warmup + args.duration
                    await queue_due(url, args.due, within, f"{key}:{time.time()}")
                bot = _server("bot", database_url=url, tick=tick)
                try:
                    run: dict[str, Any] = {"startup_s": bot.startup_s}
                    run |= await load(
                        bot.url, connector.url, args.users, args.warmup, args.duration, args.think
                    )
                finally:
                    bot.stop()
                runs[key] = run
                print(
                    f"  {key:<16} startup {run['startup_s']:5.2f} s  {run['turns_per_s']:6.1f} "
                    f"turns/s  p50 {run['p50_ms']:6.1f} ms  p99 {run['p99_ms']:6.1f} ms  "
                    f"max {run['max_ms']:7.1f} ms  >1s {run['over_1s']}  failed {run['failed']}  "
                    f"sent {run['connector_received']}  peak rss {run['rss_mb']:.0f} MB",
                    flush=True,
                )
        result["load"] = runs
    finally:
        connector.stop()
    result["idle"] = i = await idle(big)
    print(
        f"  idle (big, tick on): {i['cpu_percent']:.2f} % of a core over {i['seconds']:.0f} s, "
        f"{i['statements']} statements; startup {i['startup_s']:.2f} s, peak rss "
        f"{i['rss_mb']:.0f} MB",
        flush=True,
    )
    result["digest"] = await digest_counts(big)
    for team in result["digest"]:
        print(
            f"  digest team {team['team_id']}: open {team['open']} (counted {team['counted']}),"
            f" overdue {team['overdue']}, no summary {team['no_summary']}, overdue recs "
            f"{team['overdue_recommendations']}, hand-overs {team['handovers_waiting']}",
            flush=True,
        )
    on, empty_on, off = runs["big, tick on"], runs["empty, tick on"], runs["big, tick off"]
    result["ratios"] = {
        "p99_big_over_empty_tick_on": on["p99_ms"] / empty_on["p99_ms"],
        "p99_tick_on_over_off_big": on["p99_ms"] / off["p99_ms"],
    }
    print(
        f"  p99 tick on: big / empty = {result['ratios']['p99_big_over_empty_tick_on']:.2f}; "
        f"big: tick on / off = {result['ratios']['p99_tick_on_over_off_big']:.2f}",
        flush=True,
    )
    return result


async def idle(url: str, seconds: float = 10.0) -> dict[str, Any]:
    """The bot with nothing to do but its tick (nothing due)."""
    from storage.db import create_engine
    from storage.tables import outbox

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            # Whatever earlier runs left due is settled; the history's future rows stay.
            await connection.execute(
                update(outbox)
                .where(
                    outbox.c.status == "pending",
                    outbox.c.due_at <= datetime.now(UTC) + timedelta(minutes=5),
                )
                .values(status="cancelled")
            )
    finally:
        await engine.dispose()
    bot = _server("bot", database_url=url, tick=True)
    try:
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            await asyncio.sleep(3)
            first = await _json(http, "GET", f"{bot.url}/bench/cpu")
            await asyncio.sleep(seconds)
            last = await _json(http, "GET", f"{bot.url}/bench/cpu")
    finally:
        bot.stop()
    return {
        "seconds": seconds,
        "cpu_percent": (last["cpu_s"] - first["cpu_s"]) / seconds * 100,
        "statements": last.get("statements", 0) - first.get("statements", 0),
        "startup_s": bot.startup_s,
        "rss_mb": last["rss_mb"],
    }


async def busiest(url: str) -> int:
    """The requester with most requests in the largest team."""
    from storage.db import create_engine
    from storage.tables import consultations

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows_ = (
                await connection.execute(
                    select(consultations.c.requester_id, func.count())
                    .where(consultations.c.team_id == LARGEST)
                    .group_by(consultations.c.requester_id)
                )
            ).all()
    finally:
        await engine.dispose()
    return int(Counter(dict(rows_)).most_common(1)[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--due", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json")
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    print(f"{machine()}; load average {' '.join(load_before)}", flush=True)
    now = datetime.now(UTC)
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if args.postgres:
                from tests.support.postgres import start_postgres

                server = start_postgres()
                server.psql("CREATE DATABASE county")
                server.psql("CREATE DATABASE nothing")
                big, empty, label = server.url("county"), server.url("nothing"), "PostgreSQL"
            else:
                big = f"sqlite+aiosqlite:///{Path(tmp) / 'county.db'}"
                empty = f"sqlite+aiosqlite:///{Path(tmp) / 'nothing.db'}"
                label = "SQLite"
            result = asyncio.run(one_database(label, big, empty, args, now))
        finally:
            if server is not None:
                server.stop()
    with open("/proc/loadavg") as f:
        result["load_average"] = {"before": load_before, "after": f.read().split()[:3]}
    print(f"load average after: {' '.join(result['load_average']['after'])}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
