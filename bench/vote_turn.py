"""Turn benchmark: our bot's turns - typed commands, an Action.Submit and an Action.Execute
vote - against Microsoft's bare echo-bot sample on CloudAdapter and a raw aiohttp handler,
side by side, through a loopback Bot Connector.

    python -m bench.vote_turn [--duration 10] [--concurrency 1,16,32] [--postgres]
                              [--targets help,my,submit,vote]

Five processes, all on 127.0.0.1:
  connector - tests/support/connector.py LoopbackConnector, no limits (it stands for Teams);
  bot       - our app, bot.app.create_app(Settings(...)), seeded through real activities
              (team install, coordinator claim, two requests filed, submitted and accepted,
              poll.setup + poll.open for 16 invitees each: one invitee per virtual user;
              a poll takes at most 30 invitees, consultations/poll.py MAX_INVITEES);
  echo      - the echo-bot sample as Microsoft writes it: an ActivityHandler whose
              on_message_activity sends "Echo: <text>", ConfigurationBotFrameworkAuthentication
              with empty credentials, CloudAdapter.process(req, bot) in an aiohttp route;
  raw       - an aiohttp route that parses the JSON and posts one reply to the connector with
              a shared ClientSession, then answers 200 (the ceiling);
  bench     - this process: the load generator.

A turn, per target:
  help   - POST the message "apua"; the help card reached the connector during the turn;
  my     - POST the message "omat" (the user's requests, read from the database);
  submit - POST an Action.Submit of the vote card (a message whose value carries the verb
           poll.vote and every slot's answer); the bot replaces the card (PUT);
  vote   - POST an invoke adaptiveCard/action (verb poll.vote, the user's own from.id, every
           slot answered, "yes"/"no" alternating so every turn writes) and read the 200 whose
           body is the refreshed card; the card must show the answer just given;
  echo, raw - POST a message activity and read the response; the reply reached the connector
         during the turn (the connector's count of received replies is checked).

N virtual users per run, each with one request in flight; a warm-up, then a fixed window.
turns/s = turns completed in the window / window; p50/p99 over those turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp

from bench.fanout import machine, rss_mb
from tests.support import activities as a

# What a typed command turn says (the targets "help" and "my").
COMMANDS = {"help": "apua", "my": "omat"}
TARGETS = ("help", "my", "submit", "vote", "echo", "raw")
OURS = ("help", "my", "submit", "vote")
TARGET_TITLES = {
    "help": "(a) typed command: apua",
    "my": "(a) typed command: omat (database)",
    "submit": "(a) Action.Submit: a vote",
    "vote": "(a) Action.Execute: a vote",
    "echo": "(b) echo sample on CloudAdapter",
    "raw": "(c) raw aiohttp, one reply",
}
# SPEC §6 and the one-road issue: typed commands and votes >= 10x the echo sample at 16
# users (p99 < 100 ms), an Action.Submit >= 5x.
TARGET_RATIOS = {"help": 10.0, "my": 10.0, "vote": 10.0, "submit": 5.0}
MAX_USERS = 32
BAR_USERS = 16  # issue 17: the bar is measured at 16 concurrent users
BAR_P99_MS = 100.0  # ... with a typed command answering within this at p99
TYPED = ("help", "my")
PER_POLL = 16  # two polls of 16 invitees: a poll takes at most 30 (MAX_INVITEES)
HELSINKI = ZoneInfo("Europe/Helsinki")
COORDINATOR = a.user(1, "Outi Koordinaattori")
REQUESTER = a.user(2, "Reetta Pyytäjä")
MEMBERS = [a.user(100 + i, f"Bench Member {i:02d}") for i in range(MAX_USERS)]
TEAM_CHANNEL = "19:team-general@thread.tacv2"
CARD_RESPONSE = "application/vnd.microsoft.card.adaptive"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)
SQL: Counter[str] = Counter()  # in the vote server: statements and commits so far
SQL_KINDS: Counter[str] = Counter()


# --- the processes ---------------------------------------------------------------------


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _add_bench_routes(app: Any, profile_to: list[cProfile.Profile]) -> None:
    """Routes the bench uses to read a process's CPU time and to profile it."""
    from aiohttp import web

    async def cpu(request: web.Request) -> web.Response:
        return web.json_response({"cpu_s": time.process_time(), "rss_mb": rss_mb(), **SQL})

    async def profile(request: web.Request) -> web.Response:
        if request.query.get("action") == "start":
            profile_to.append(cProfile.Profile())
            profile_to[-1].enable()
            return web.json_response({})
        profiler = profile_to.pop()
        profiler.disable()
        profiler.dump_stats(request.query["file"])
        return web.json_response({})

    app.router.add_get("/bench/cpu", cpu)
    app.router.add_post("/bench/profile", profile)


def _connector_app(roster: list[dict[str, Any]]) -> Any:
    from aiohttp import web

    from tests.support.connector import LoopbackConnector

    fake = LoopbackConnector(limits=None, roster=roster, page_size=500)
    app = fake.app()

    async def cards(request: web.Request) -> web.Response:
        return web.json_response(fake.cards(request.query["conversation"]))

    async def clear(request: web.Request) -> web.Response:
        received = len(fake.sent)
        fake.sent.clear()
        fake.updates.clear()
        return web.json_response({"received": received})

    app.router.add_get("/bench/cards", cards)
    app.router.add_post("/bench/clear", clear)
    return app


def _vote_app(database_url: str, port: int) -> Any:
    from aiohttp import web

    from bot.app import COMPONENTS, create_app
    from bot.settings import Settings

    # Teams' limits are the fan-out bench's business (bench/fanout.py): here the loopback
    # connector does not enforce them and the bot is told not to either, so what is
    # measured is the turn itself, as the echo sample's is (one tenant, 16 conversations
    # answered far past 50 sends/s, which real Teams would throttle for both bots).
    unlimited = 1_000_000
    app = create_app(
        Settings(
            database_url=database_url,
            run_scheduler=False,
            port=port,
            per_conversation_per_second=unlimited,
            per_conversation_per_30s=unlimited,
            per_tenant_per_second=unlimited,
        )
    )

    async def tick(request: web.Request) -> web.Response:
        """What the scheduler would do next: deliver the outbox (the tests call it too)."""
        sent = await request.app[COMPONENTS].dispatcher.tick()
        return web.json_response({"sent": sent})

    async def count_sql(app: web.Application) -> None:
        """Count the statements and commits the bot sends to the database (bench only)."""
        from sqlalchemy import event

        engine = app[COMPONENTS].engine.sync_engine

        def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
            SQL["statements"] += 1
            SQL_KINDS[" ".join(sql.split())[:70]] += 1

        def commit(conn: Any) -> None:
            SQL["commits"] += 1

        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)

    async def sql_kinds(request: web.Request) -> web.Response:
        kinds = dict(SQL_KINDS)
        SQL_KINDS.clear()
        return web.json_response(kinds)

    app.on_startup.append(count_sql)  # after create_app's own start-up
    app.router.add_post("/bench/tick", tick)
    app.router.add_post("/bench/sql", sql_kinds)
    return app


def _echo_app() -> Any:
    """Microsoft's 02.echo-bot sample (app.py, bots/echo_bot.py, config.py), as written."""
    import traceback

    from aiohttp import web
    from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
    from botbuilder.core.integration import aiohttp_error_middleware
    from botbuilder.integration.aiohttp import (
        CloudAdapter,
        ConfigurationBotFrameworkAuthentication,
    )
    from botbuilder.schema import ChannelAccount

    class DefaultConfig:
        PORT = 3978
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    class EchoBot(ActivityHandler):  # type: ignore[misc]
        async def on_members_added_activity(
            self, members_added: list[ChannelAccount], turn_context: TurnContext
        ) -> None:
            for member in members_added:
                if member.id != turn_context.activity.recipient.id:
                    await turn_context.send_activity("Hello and welcome!")

        async def on_message_activity(self, turn_context: TurnContext) -> Any:
            return await turn_context.send_activity(
                MessageFactory.text(f"Echo: {turn_context.activity.text}")
            )

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(DefaultConfig()))

    async def on_error(context: TurnContext, error: Exception) -> None:
        print(f"\n [on_turn_error] unhandled error: {error}", file=sys.stderr)
        traceback.print_exc()
        await context.send_activity("The bot encountered an error or bug.")

    adapter.on_turn_error = on_error
    bot = EchoBot()

    async def messages(req: web.Request) -> web.Response:
        return await adapter.process(req, bot)  # type: ignore[no-any-return]

    app = web.Application(middlewares=[aiohttp_error_middleware])
    app.router.add_post("/api/messages", messages)
    return app


def _raw_app() -> Any:
    from aiohttp import web

    http: list[aiohttp.ClientSession] = []

    async def start(app: web.Application) -> None:
        http.append(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, limit_per_host=50, keepalive_timeout=60)
            )
        )

    async def stop(app: web.Application) -> None:
        await http[0].close()

    async def messages(request: web.Request) -> web.Response:
        activity = await request.json()
        conversation = quote(activity["conversation"]["id"], safe="")
        reply_to = quote(activity["id"], safe="")
        url = f"{activity['serviceUrl']}/v3/conversations/{conversation}/activities/{reply_to}"
        reply = {
            "type": "message",
            "text": f"Echo: {activity.get('text')}",
            "from": activity["recipient"],
            "recipient": activity["from"],
            "conversation": activity["conversation"],
            "replyToId": activity["id"],
        }
        async with http[0].post(url, json=reply) as response:
            await response.read()
            if response.status >= 300:
                return web.Response(status=502)
        return web.Response(status=200)

    app = web.Application()
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/api/messages", messages)
    return app


def _app(kind: str, port: int, options: dict[str, Any]) -> Any:
    """The aiohttp app of one of this bench's processes."""
    if kind == "connector":
        return _connector_app(options["roster"])
    if kind == "vote":
        return _vote_app(options["database_url"], port)
    if kind == "echo":
        return _echo_app()
    return _raw_app()


AppBuilder = Callable[[str, int, dict[str, Any]], Any]


def _server_main(pipe: Any, kind: str, build: AppBuilder, options: dict[str, Any]) -> None:
    asyncio.run(_serve(pipe, kind, build, options))


async def _serve(pipe: Any, kind: str, build: AppBuilder, options: dict[str, Any]) -> None:
    from aiohttp import web

    sock = _listen()
    app = build(kind, sock.getsockname()[1], options)
    _add_bench_routes(app, [])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    pipe.send(sock.getsockname()[1])
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "stop"
    await runner.cleanup()
    pipe.send("stopped")


class Server:
    """One of the processes, spawned; `url` is where it listens. `build` makes its app in
    the new process (a module-level function: spawn pickles it by name)."""

    def __init__(
        self, kind: str, *, build: AppBuilder = _app, start_timeout: float = 120, **options: Any
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.kind = kind
        self._pipe, child = ctx.Pipe()
        began = time.perf_counter()
        self._process = ctx.Process(
            target=_server_main,
            args=(child, kind, build, options),
            daemon=True,
            name=f"bench-{kind}",
        )
        self._process.start()
        if not self._pipe.poll(start_timeout):
            self._process.kill()
            raise RuntimeError(f"{kind} server did not start")
        self.url = f"http://127.0.0.1:{self._pipe.recv()}"
        self.startup_s = time.perf_counter() - began

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._pipe.send("stop")
            self._pipe.poll(30)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


# --- card helpers (as the e2e tests walk cards) -----------------------------------------


def _walk(node: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)
    return found


def actions(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["verb"]: n for n in _walk(card, []) if n.get("type") == "Action.Execute"}


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        n["id"]: n
        for n in _walk(card, [])
        if str(n.get("type", "")).startswith("Input.") and "id" in n
    }


def chat(user: dict[str, Any]) -> str:
    return f"a:personal-{user['id']}"


# --- seeding, through real activities -------------------------------------------------


class Seeder:
    def __init__(self, http: aiohttp.ClientSession, bot: str, connector: str) -> None:
        self.http, self.bot, self.connector = http, bot, connector

    async def post(self, activity: dict[str, Any]) -> Any:
        async with self.http.post(f"{self.bot}/api/messages", json=activity) as response:
            text = await response.text()
            if response.status != 200:
                raise RuntimeError(f"seeding: {activity['type']} got {response.status}: {text}")
            return json.loads(text) if text else None

    async def click(
        self, user: dict[str, Any], card: dict[str, Any], verb: str, **fields: Any
    ) -> dict[str, Any]:
        data = {**actions(card)[verb]["data"], **fields}
        body = await self.post(a.execute(self.connector, user, verb, data))
        if not body or body.get("type") != CARD_RESPONSE:
            raise RuntimeError(f"seeding: {verb} answered {body}")
        return body["value"]  # type: ignore[no-any-return]

    async def cards(self, conversation: str) -> list[dict[str, Any]]:
        url = f"{self.connector}/bench/cards"
        async with self.http.get(url, params={"conversation": conversation}) as response:
            return await response.json()  # type: ignore[no-any-return]

    async def last_card_with(self, conversation: str, verb: str) -> dict[str, Any]:
        for card in reversed(await self.cards(conversation)):
            if verb in actions(card):
                return dict(card)
        raise RuntimeError(f"seeding: no card with {verb} in {conversation}")

    async def tick(self) -> None:
        async with self.http.post(f"{self.bot}/bench/tick") as response:
            response.raise_for_status()

    async def accepted_case(self, question: str) -> dict[str, Any]:
        await self.post(a.text(self.connector, REQUESTER, "uusi"))
        page = await self.last_card_with(chat(REQUESTER), "request.next")
        page = await self.click(
            REQUESTER,
            page,
            "request.next",
            team_id=inputs(page)["team_id"]["choices"][0]["value"],
            client_reference="RP-1978",
            consent="obtained",
            consent_date=(datetime.now(UTC).date() - timedelta(days=2)).isoformat(),
            urgency="normal",
        )
        pages: list[dict[str, Any]] = [
            {"question": question, "situation": "Sairauslomaa 9 kk.", "history": ""},
            {"self_rating": "4", "goals": "Osa-aikatyö"},
            {"services": "kela,employment_services", "barriers": "person.pain"},
            {"professions": "physician,social_worker", "client_attends": "yes"},
        ]
        for fields in pages:
            page = await self.click(REQUESTER, page, "request.next", **fields)
        await self.click(REQUESTER, page, "request.submit")
        await self.tick()
        triage = await self.last_card_with(chat(COORDINATOR), "triage.accept")
        return await self.click(COORDINATOR, triage, "triage.accept")

    async def open_poll(self, accepted: dict[str, Any], members: list[dict[str, Any]]) -> None:
        setup_card = await self.click(COORDINATOR, accepted, "poll.setup")
        picker = inputs(setup_card)["invitees"]
        by_name = {
            m["name"]: c["value"]
            for c in picker["choices"]
            for m in members
            if m["name"] in c["title"]
        }
        # A team of more than 30: the others are found by name, as a coordinator would
        # (Teams' typeahead: an application/search invoke for the picker's dataset).
        dataset = (picker.get("choices.data") or {}).get("dataset")
        for member in members:
            if member["name"] in by_name or not dataset:
                continue
            found = await self.post(
                a.personal(
                    self.connector,
                    COORDINATOR,
                    type="invoke",
                    name="application/search",
                    value={"dataset": dataset, "queryText": member["name"]},
                )
            )
            results = found["value"]["results"] if found else []
            if results:
                by_name[member["name"]] = results[0]["value"]
        if len(by_name) != len(members):
            raise RuntimeError("seeding: not every member is offered as an invitee")
        first, second, deadline = poll_days()
        fields = {
            "slot1_date": first.isoformat(),
            "slot1_time": "13:00",
            "slot1_minutes": "60",
            "slot2_date": second.isoformat(),
            "slot2_time": "09:00",
            "slot2_minutes": "90",
            **{f"slot{n}_{k}": "" for n in (3, 4) for k in ("date", "time")},
            "invitees": ",".join(by_name[m["name"]] for m in members),
            "required": "",
            "deadline_date": deadline.isoformat(),
            "deadline_time": "12:00",
            "place": "Neuvotteluhuone Kuusi",
        }
        overview = await self.click(COORDINATOR, setup_card, "poll.open", **fields)
        if "poll.finalize" not in {n.get("verb") for n in _walk(overview, [])}:
            raise RuntimeError("seeding: poll.open did not answer with the overview")


def poll_days() -> tuple[date, date, date]:
    """Two working days a week or more ahead for the slots; a deadline before them."""
    from bot.app import finnish_calendar

    calendar = finnish_calendar()
    today = datetime.now(UTC).astimezone(HELSINKI).date()
    days = [today + timedelta(days=d) for d in range(7, 40)]
    first, second = [d for d in days if calendar.is_working_day(d)][:2]
    return first, second, today + timedelta(days=3)


async def seed(bot: str, connector: str, users: int) -> list[dict[str, Any]]:
    """Team, coordinator, accepted cases and open polls; one invitee per virtual user.

    Returns, per user, the Teams user and the poll.vote data and slot inputs of their card.
    """
    members = MEMBERS[:users]
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        s = Seeder(http, bot, connector)
        await s.post(a.team_installed(connector, COORDINATOR))
        claim = await s.last_card_with(TEAM_CHANNEL, "role.claim")
        await s.click(COORDINATOR, claim, "role.claim")
        for start in range(0, users, PER_POLL):
            accepted = await s.accepted_case(f"Miten tukea paluuta työelämään? ({start})")
            await s.open_poll(accepted, members[start : start + PER_POLL])
        await s.tick()
        voters = []
        for member in members:
            card = await s.last_card_with(chat(member), "poll.vote")
            slots = sorted(k for k in inputs(card) if k.startswith("slot_"))
            voters.append(
                {"user": member, "data": actions(card)["poll.vote"]["data"], "slots": slots}
            )
        return voters


# --- the load -------------------------------------------------------------------------


class Turns:
    """Builds each virtual user's next request body and checks the answer."""

    def __init__(self, kind: str, connector: str, voters: list[dict[str, Any]]) -> None:
        self.kind = kind
        self.slots = [v["slots"] for v in voters]
        if kind == "vote":
            self.templates = [
                a.execute(connector, v["user"], "poll.vote", dict(v["data"])) for v in voters
            ]
        elif kind == "submit":
            # The same vote from a client without Universal Actions: the card's data comes
            # back as the message's value, and the answer replaces the card (PUT).
            self.templates = [
                a.submit(connector, v["user"], dict(v["data"]), reply_to="card-1") for v in voters
            ]
        elif kind in COMMANDS:
            self.templates = [a.text(connector, m, COMMANDS[kind]) for m in MEMBERS]
        else:
            self.templates = [a.text(connector, m, "hello") for m in MEMBERS]

    def body(self, user: int, k: int) -> tuple[bytes, str]:
        activity = self.templates[user]
        activity["id"] = f"bench-{self.kind}-{user}-{k}"
        answer = "yes" if k % 2 == 0 else "no"
        if self.kind == "vote":
            data = activity["value"]["action"]["data"]
            for slot in self.slots[user]:
                data[slot] = answer
        elif self.kind == "submit":
            for slot in self.slots[user]:
                activity["value"][slot] = answer
        elif self.kind not in COMMANDS:
            activity["text"] = f"hello {k}"
        return json.dumps(activity).encode(), answer

    def check(self, user: int, status: int, payload: bytes, answer: str) -> bool:
        if self.kind != "vote":
            # A message's answer is its reply (sent to the connector and counted there);
            # CloudAdapter.process answers a message with 201.
            return 200 <= status < 300
        if status != 200:
            return False
        try:
            body = json.loads(payload)
        except ValueError:
            return False
        if body.get("type") != CARD_RESPONSE:
            return False
        shown = inputs(body["value"])
        return all(shown.get(s, {}).get("value") == answer for s in self.slots[user])


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


async def _get_json(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as response:
        return await response.json()  # type: ignore[no-any-return]


async def run_load(
    server: str, connector: str, turns: Turns, users: int, warmup: float, duration: float
) -> dict[str, Any]:
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0, "failed_in_window": 0}
    loop = asyncio.get_running_loop()
    headers = {"Content-Type": "application/json"}
    url = f"{server}/api/messages"
    async with (
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as control,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=HTTP_TIMEOUT
        ) as http,
    ):
        async with control.post(f"{connector}/bench/clear") as response:
            await response.read()
        start = loop.time()
        window_start, window_end = start + warmup, start + warmup + duration

        async def user(i: int) -> None:
            for k in range(10_000_000):  # bounded; the clock ends it
                t0 = loop.time()
                if t0 >= window_end:
                    return
                body, answer = turns.body(i, k)
                try:
                    async with http.post(url, data=body, headers=headers) as response:
                        payload = await response.read()
                        ok = turns.check(i, response.status, payload, answer)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                t1 = loop.time()
                counts["ok" if ok else "failed"] += 1
                if window_start <= t1 <= window_end:
                    if ok:
                        latencies.append(t1 - t0)
                    else:
                        counts["failed_in_window"] += 1

        async def sample(at: float) -> dict[str, Any]:
            await asyncio.sleep(max(0.0, at - loop.time()))
            server_cpu, connector_cpu = await asyncio.gather(
                _get_json(control, f"{server}/bench/cpu"),
                _get_json(control, f"{connector}/bench/cpu"),
            )
            return {"t": loop.time(), "cpu": time.process_time(), "server": server_cpu,
                    "connector": connector_cpu}  # fmt: skip

        sampler = asyncio.gather(sample(window_start), sample(window_end))
        await asyncio.gather(*(user(i) for i in range(users)))
        first, last = await sampler
        async with control.post(f"{connector}/bench/clear") as response:
            received = (await response.json())["received"]
    latencies.sort()
    done = len(latencies)
    per_turn = 1000 / done if done else float("nan")
    return {
        "turns_per_s": done / duration,
        "turns": done,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "completed": counts["ok"] + counts["failed"],
        "failed": counts["failed"],
        "failed_in_window": counts["failed_in_window"],
        "replies_received": received,
        # A card click is answered in the HTTP response (or, for Action.Submit, by
        # replacing the card); every other turn posts one reply.
        "replies_expected": 0
        if turns.kind in ("vote", "submit")
        else counts["ok"] + counts["failed"],
        "server_cpu_ms_per_turn": (last["server"]["cpu_s"] - first["server"]["cpu_s"]) * per_turn,
        "connector_cpu_ms_per_turn": (last["connector"]["cpu_s"] - first["connector"]["cpu_s"])
        * per_turn,
        "client_cpu_ms_per_turn": (last["cpu"] - first["cpu"]) * per_turn,
        "server_rss_mb": last["server"]["rss_mb"],
        "sql_statements_per_turn": _delta(first, last, "statements") / done if done else 0.0,
        "sql_commits_per_turn": _delta(first, last, "commits") / done if done else 0.0,
    }


def _delta(first: dict[str, Any], last: dict[str, Any], key: str) -> int:
    return int(last["server"].get(key, 0) - first["server"].get(key, 0))


async def profile_target(
    servers: dict[str, Server], turns: Turns, users: int, duration: float, file: str
) -> None:
    """A separate run of one target with cProfile on in the bot process (not reported)."""
    bot = servers["bot"].url
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as control:
        async with control.post(f"{bot}/bench/sql") as response:
            await response.read()  # forget the statements so far
        async with control.post(f"{bot}/bench/profile", params={"action": "start"}) as response:
            await response.read()
        result = await run_load(bot, servers["connector"].url, turns, users, 0.5, duration)
        async with control.post(
            f"{bot}/bench/profile", params={"action": "stop", "file": file}
        ) as response:
            await response.read()
        async with control.post(f"{bot}/bench/sql") as response:
            kinds = await response.json()
    completed = max(1, result["completed"])
    print(f"\nSQL statements per {turns.kind} turn, by kind ({completed} turns):")
    for sql, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {n / completed:5.2f}  {sql}")
    out = io.StringIO()
    stats = pstats.Stats(file, stream=out)
    print(f"\nprofile of the bot, {turns.kind}, {users} users, {result['turns']} turns (cProfile)")
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(30)
    print(out.getvalue())


def _ratio(x: float, y: float) -> float:
    return x / y if y else float("nan")


# --- the run --------------------------------------------------------------------------


def versions() -> dict[str, str]:
    import sqlite3
    from importlib.metadata import version

    found = {p: version(p) for p in ("botbuilder-core", "aiohttp", "msrest", "sqlalchemy")}
    found["sqlite"] = sqlite3.sqlite_version
    with contextlib.suppress(Exception):
        found["asyncpg"] = version("asyncpg")
    return found


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    users_needed = max(args.concurrency)
    load_start = os.getloadavg()  # other work on the machine skews every column alike
    tmp = tempfile.mkdtemp(prefix="bench-turns-")
    postgres = None
    servers: dict[str, Server] = {}
    try:
        if args.postgres:
            from tests.support.postgres import start_postgres

            postgres = start_postgres()
            postgres.psql("CREATE DATABASE bench")
            url = postgres.url("bench")
        else:
            url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        roster = [COORDINATOR, REQUESTER, *MEMBERS]
        servers["connector"] = Server("connector", roster=roster)
        servers["bot"] = Server("vote", database_url=url)
        servers["echo"] = Server("echo")
        servers["raw"] = Server("raw")
        connector = servers["connector"].url
        t0 = time.perf_counter()
        voters = await seed(servers["bot"].url, connector, MAX_USERS)
        print(f"seeded in {time.perf_counter() - t0:.1f} s: {len(voters)} invitees", flush=True)
        targets = [t for t in TARGETS if t in args.targets or t in ("echo", "raw")]
        turns = {kind: Turns(kind, connector, voters) for kind in targets}
        results: dict[str, dict[str, Any]] = {}
        for users in args.concurrency:
            row: dict[str, Any] = {}
            for kind in targets:
                server = servers["bot" if kind in OURS else kind].url
                row[kind] = await run_load(
                    server, connector, turns[kind], users, args.warmup, args.duration
                )
                r = row[kind]
                print(
                    f"  {users:>2} users {kind:<6}: {r['turns_per_s']:8.1f} turns/s  "
                    f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                    f"failed {r['failed']}",
                    flush=True,
                )
            row["over_echo"] = {
                k: _ratio(row[k]["turns_per_s"], row["echo"]["turns_per_s"])
                for k in targets
                if k in OURS
            }
            results[str(users)] = row
        if args.profile:
            kind = args.profile_target
            await profile_target(servers, turns[kind], users_needed, args.duration, args.profile)
        # Throughput is what a server sustains under load: the best turns/s of each target
        # over the concurrencies measured (the echo sample peaks at one user already).
        best = {k: max(row[k]["turns_per_s"] for row in results.values()) for k in targets}
        return {
            "backend": url.split(":", 1)[0],
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "targets": targets,
            "results": results,
            "best_turns_per_s": best,
            "target_ratios": {k: v for k, v in TARGET_RATIOS.items() if k in targets},
            "machine": {**machine(), "platform": platform.platform(), **versions()},
            "load_average": {"start": load_start, "end": os.getloadavg()},
        }
    finally:
        for server in servers.values():
            server.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def print_report(r: dict[str, Any]) -> None:
    m = r["machine"]
    print(
        f"\nour turns vs the echo sample vs raw aiohttp: {r['backend']}, window "
        f"{r['duration_s']:g} s after {r['warmup_s']:g} s warm-up; {m['nproc']} CPU "
        f"({m['cpu']}), Python {m['python']}, botbuilder {m['botbuilder-core']}, "
        f"aiohttp {m['aiohttp']}"
    )
    targets = r["targets"]
    print(f"{'users':>5} {'target':<7} {'turns/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'x echo':>7}"
          f" {'CPU ms (bot/conn/load)':>24} {'SQL/turn':>8}")  # fmt: skip
    for users, row in r["results"].items():
        for k in targets:
            x = row[k]
            ratio = row["over_echo"].get(k)
            cpu = (
                f"{x['server_cpu_ms_per_turn']:6.2f} / {x['connector_cpu_ms_per_turn']:5.2f} / "
                f"{x['client_cpu_ms_per_turn']:5.2f}"
            )
            print(
                f"{users:>5} {k:<7} {x['turns_per_s']:>9.1f} {x['p50_ms']:>7.2f} "
                f"{x['p99_ms']:>7.2f} {(f'{ratio:.2f}' if ratio else '-'):>7} {cpu:>24} "
                f"{x['sql_statements_per_turn']:>8.1f}"
            )
            if x["failed"] or x["replies_received"] != x["replies_expected"]:
                print(
                    f"      failed {x['failed']}, replies {x['replies_received']}"
                    f"/{x['replies_expected']}"
                )
    load = r["load_average"]
    print(f"load average (1/5/15 min) at start {load['start']}, at end {load['end']}")
    best = r["best_turns_per_s"]
    print("throughput (best turns/s): " + ", ".join(f"{k} {v:.1f}" for k, v in best.items()))
    for kind, target in r["target_ratios"].items():
        at = {u: row["over_echo"][kind] for u, row in r["results"].items()}
        p99 = {u: row[kind]["p99_ms"] for u, row in r["results"].items()}
        verdict = "MET" if all(v >= target for v in at.values()) else "NOT MET"
        cells = ", ".join(f"{u}: {v:.2f}x p99 {p99[u]:.0f} ms" for u, v in at.items())
        title = f"{TARGET_TITLES[kind]:<38} >= {target:g}x echo at every concurrency"
        print(f"{title}: {verdict} ({cells})")
    bar = str(BAR_USERS)
    if bar in r["results"]:
        # The bar as issue 17 sets it: at 16 users, the ratio, and p99 under 100 ms for a
        # typed command.
        for kind, target in r["target_ratios"].items():
            ratio, p99_ms = r["results"][bar]["over_echo"][kind], r["results"][bar][kind]["p99_ms"]
            typed = kind in TYPED
            met = ratio >= target and (not typed or p99_ms < BAR_P99_MS)
            rule = f">= {target:g}x echo" + (f", p99 < {BAR_P99_MS:g} ms" if typed else "")
            title = f"{TARGET_TITLES[kind]:<38} at {bar} users, {rule}"
            print(f"{title}: {'MET' if met else 'NOT MET'} ({ratio:.2f}x, p99 {p99_ms:.0f} ms)")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="measured window per run, s")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up before each window, s")
    p.add_argument("--concurrency", default="1,16,32", help=f"virtual users, at most {MAX_USERS}")
    p.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL")
    p.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    p.add_argument("--targets", default=",".join(OURS), help="which of our turns to measure")
    p.add_argument("--profile", help="then cProfile the bot at the top concurrency, to this file")
    p.add_argument("--profile-target", default="help", choices=OURS)
    p.add_argument("--json", help="also write the JSON result to this file")
    args = p.parse_args(argv)
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        p.error("--concurrency takes numbers separated by commas")
    if not args.concurrency or not all(0 < c <= MAX_USERS for c in args.concurrency):
        p.error(f"--concurrency: each between 1 and {MAX_USERS}")
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not set(args.targets) <= set(OURS):
        p.error(f"--targets: some of {', '.join(OURS)}")
    if args.duration <= 0 or args.warmup < 0:
        p.error("--duration must be positive, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    result = asyncio.run(main_async(args))
    print_report(result)
    line = json.dumps(result, sort_keys=True)
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    return 0  # a measurement, not a test: the verdict is printed above


if __name__ == "__main__":
    sys.exit(main())
