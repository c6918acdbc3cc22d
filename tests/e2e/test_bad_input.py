"""Malformed, oversized and tampered input at /api/messages, against the real app.

Whatever arrives, the answer is a 4xx or a clear message - never a 500 - and a refused
card action changes nothing in the database.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import http.client
import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from bot.app import MAX_BODY_BYTES, create_app
from bot.settings import Settings
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.connector import LoopbackConnector

MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
TEAM = "19:team-general@thread.tacv2"

# --- deterministic cases through the make_bot / connector fixtures ----------------------------


async def _raw(bot: RunningBot, body: bytes, content_type: str = "application/json") -> int:
    response = await bot.client.post(
        "/api/messages", data=body, headers={"Content-Type": content_type}
    )
    await response.read()
    status: int = response.status
    return status


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"type": "message",}', b"\xff\xfe\x00", b"NaN-ish", b'{"a": 1}{"b": 2}'],
)
async def test_malformed_json_is_400(make_bot: BotFactory, body: bytes) -> None:
    bot = await make_bot()
    assert await _raw(bot, body) == 400


@pytest.mark.parametrize("body", ["[]", "[{}]", '"message"', "42", "null", "true"])
async def test_json_that_is_not_an_object_is_400(make_bot: BotFactory, body: str) -> None:
    bot = await make_bot()
    assert await _raw(bot, body.encode()) == 400


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
async def test_a_wrong_content_type_is_415(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], content_type: str
) -> None:
    fake, url = connector
    bot = await make_bot()
    body = json.dumps(a.text(url, a.user(1), "apua")).encode()
    assert await _raw(bot, body, content_type) == 415
    assert fake.sent == []


async def test_a_body_over_the_size_limit_is_413(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    activity = a.text(url, a.user(1), "x" * (MAX_BODY_BYTES + 1))
    assert await _raw(bot, json.dumps(activity).encode()) == 413
    assert fake.sent == []


def _without(activity: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in activity.items() if k != key}


@pytest.mark.parametrize(
    "key", ["conversation", "from", "serviceUrl", "recipient", "type", "channelId"]
)
async def test_an_activity_missing_a_required_part_is_400(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], key: str
) -> None:
    fake, url = connector
    bot = await make_bot()
    response = await bot.post(_without(a.text(url, a.user(1), "apua"), key))
    assert response.status == 400, await response.text()
    assert fake.sent == []


@pytest.mark.parametrize(
    "service_url", ["not a url", "ftp://127.0.0.1/", "127.0.0.1", "http://", "http://x:99999/"]
)
async def test_a_service_url_that_cannot_be_answered_is_400_and_queues_nothing(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], service_url: str
) -> None:
    """Every reply goes to the serviceUrl: one that no retry could ever reach is refused at
    the edge, instead of holding the turn for seconds and leaving an outbox row behind."""
    fake, _url = connector
    bot = await make_bot()
    response = await bot.post(a.text(service_url, a.user(1), "apua"))
    assert response.status == 400, await response.text()
    async with bot.components.engine.connect() as connection:
        queued = (await connection.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
        known = (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one()
    assert (queued, known, fake.sent) == (0, 0, [])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("text", 12345),
        ("text", {"a": 1}),
        ("channelData", ["tenant"]),
        ("channelData", "tenant"),
        ("membersAdded", "29:user-1"),
        ("membersAdded", ["29:user-1"]),
        ("conversation", "a:personal"),
        ("conversation", {"id": 7}),
        ("from", {"id": ""}),
        ("serviceUrl", ["http://127.0.0.1"]),
        ("locale", 5),
        ("attachments", {"contentType": "x"}),
    ],
)
async def test_fields_of_the_wrong_type_are_400(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str], key: str, value: Any
) -> None:
    fake, url = connector
    bot = await make_bot()
    activity = a.text(url, a.user(1), "apua")
    activity[key] = value
    response = await bot.post(activity)
    assert response.status == 400, await response.text()
    assert fake.sent == []


async def test_a_huge_text_gets_a_clear_message_in_the_users_language(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    response = await bot.post(a.text(url, a.user(1), "apua " * 10_000))
    assert response.status < 300, await response.text()
    assert len(fake.texts()) == 1
    assert "liian pitkä" in fake.texts()[0]


async def _dump(bot: RunningBot) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, but the bot's dialog state and users.updated_at."""
    async with bot.components.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        dump: dict[str, list[tuple[Any, ...]]] = {}
        for name in sorted(names):
            if name == "bot_state":
                continue
            result = await connection.execute(text(f'SELECT * FROM "{name}"'))
            columns = list(result.keys())
            rows = [
                tuple(v for c, v in zip(columns, row, strict=True) if c != "updated_at")
                if name == "users"
                else tuple(row)
                for row in result
            ]
            dump[name] = sorted(rows, key=repr)
    return dump


def _tampered(url: str) -> list[dict[str, Any]]:
    sender = a.user(1)
    tampered = [
        a.execute(url, sender, verb, data)
        for verb, data in [
            ("role.delete_everything", {"team_id": 1}),
            ("__init__", {}),
            ("", {}),
            ("role.claim", {"team_id": [1]}),
            ("role.claim", {"team_id": -1}),
            ("role.claim", {"team_id": 0}),
            ("role.claim", {"team_id": 2**63}),
            ("role.claim", {"team_id": 10**400}),
            ("role.claim", {"team_id": "1 OR 1=1"}),
            ("role.claim", {"team_id": "1; DROP TABLE users"}),
            ("role.claim", {"team_id": None}),
            ("role.claim", {"team_id": True}),
            ("role.claim", {"team_id": 1.5}),
            ("role.claim", {"team_id": {"id": 1}}),
            ("role.claim", {}),
            ("role.grant", {"team_id": 1, "user_id": [2], "role": "coordinator"}),
            ("role.grant", {"team_id": 1, "user_id": "2 OR 1=1", "role": "coordinator"}),
            ("role.grant", {"team_id": 1, "user_id": 1, "role": "admin"}),
            ("role.revoke", {"team_id": "1' --", "user_id": 1, "role": "coordinator"}),
            ("role.revoke", {}),
            ("profile.save", {"profession": ["nurse"]}),
            ("profile.save", {"profession": "no-such-profession"}),
            ("profile.save", {}),
        ]
    ]
    base = a.execute(url, sender, "role.claim", {"team_id": 1})
    for value in ["role.claim", [], {"action": "role.claim"}, {"action": {"verb": 7}}]:
        activity = copy.deepcopy(base)
        activity["value"] = value
        tampered.append(activity)
    no_data = copy.deepcopy(base)
    del no_data["value"]["action"]["data"]
    tampered.append(no_data)
    data_list = copy.deepcopy(base)
    data_list["value"]["action"]["data"] = [{"team_id": 1}]
    tampered.append(data_list)
    return tampered


async def test_a_tampered_card_action_changes_nothing(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    # A team (id 1) with the user in it, and the user known to the bot.
    fake.roster = [a.user(1), a.user(2)]
    response = await bot.post(a.team_installed(url, a.user(2)))
    assert response.status < 300, await response.text()
    assert (await bot.invoke(a.execute(url, a.user(1), "help.open", {})))["statusCode"] == 200
    before = await _dump(bot)
    assert before["teams"] and before["users"]

    for activity in _tampered(url):
        response = await bot.post(activity)
        assert response.status == 200, (activity["value"], await response.text())
        body = await response.json()
        assert body["type"] == MESSAGE_RESPONSE, (activity["value"], body)
        assert isinstance(body["value"], str) and body["value"], body

    assert await _dump(bot) == before


# --- property tests against one app served from a background thread --------------------------


@dataclass
class Served:
    port: int
    service_url: str
    database: str

    def post(
        self,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/api/messages",
                body=body,
                headers={"Content-Type": content_type, **(headers or {})},
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real app (and a loopback Bot Connector) on a loop of their own, started once.

    Hypothesis runs a sync test many times; the app lives in another thread, so the test
    talks to it over plain HTTP.
    """
    database = Path(tmp_path_factory.mktemp("fuzz")) / "bot.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}", run_scheduler=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed-bot", daemon=True)
    thread.start()

    async def start() -> tuple[list[web.AppRunner], int, int]:
        runners = [web.AppRunner(create_app(settings)), web.AppRunner(LoopbackConnector().app())]
        ports = []
        for runner in runners:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            ports.append(runner.addresses[0][1])
        return runners, ports[0], ports[1]

    runners, bot_port, connector_port = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        yield Served(bot_port, f"http://127.0.0.1:{connector_port}", str(database))
    finally:

        async def stop() -> None:
            for runner in runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
activity_keys = st.sampled_from(
    [
        "type",
        "id",
        "channelId",
        "serviceUrl",
        "from",
        "recipient",
        "conversation",
        "channelData",
        "locale",
        "text",
        "textFormat",
        "value",
        "name",
        "replyToId",
        "membersAdded",
        "membersRemoved",
        "attachments",
        "entities",
        "timestamp",
        "localTimestamp",
        "action",
    ]
)
# Paths inside the activity worth tampering with; the last part is the key that changes.
activity_paths = st.sampled_from(
    [
        ("from", "id"),
        ("from", "aadObjectId"),
        ("from", "name"),
        ("recipient", "id"),
        ("conversation", "id"),
        ("conversation", "conversationType"),
        ("conversation", "tenantId"),
        ("channelData", "tenant"),
        ("channelData", "team"),
        ("channelData", "eventType"),
        ("value", "action"),
        ("value", "action", "verb"),
        ("value", "action", "data"),
        ("value", "action", "data", "team_id"),
        ("value", "action", "data", "user_id"),
        ("value", "action", "data", "role"),
        ("value", "action", "data", "profession"),
    ]
)
# A serviceUrl is called back; a random one would be resolved, so only these few.
# (No unreachable http:// one: the SDK's client retries it with backoff, for seconds.)
service_urls = st.sampled_from(["", "not a url", "ftp://127.0.0.1/", "127.0.0.1"])
verbs = st.sampled_from(
    ["help.open", "profile.open", "profile.save", "role.claim", "role.grant", "deliveries.open"]
)
words = st.sampled_from(["apua", "help", "profiili", "roolit", "toimitukset", "", "?", "x" * 5000])


@st.composite
def mutated_activities(draw: st.DrawFn, service_url: str) -> dict[str, Any]:
    sender = a.user(draw(st.integers(1, 3)))
    if draw(st.booleans()):
        activity = a.text(service_url, sender, draw(words))
    else:
        data = draw(st.dictionaries(st.sampled_from(["team_id", "user_id", "role"]), json_values))
        activity = a.execute(service_url, sender, draw(verbs), data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "delete", "nested", "service_url"]))
        if kind == "set":
            activity[draw(activity_keys)] = draw(json_values)
        elif kind == "delete":
            activity.pop(draw(activity_keys), None)
        elif kind == "service_url":
            activity["serviceUrl"] = draw(service_urls)
        else:
            *parents, key = draw(activity_paths)
            node: Any = activity
            for parent in parents:
                if not isinstance(node, dict):
                    break
                node = node.setdefault(parent, {})
            if isinstance(node, dict):
                node[key] = draw(json_values)
    # serviceUrl is called back: keep it loopback whatever the mutations did.
    url = activity.get("serviceUrl")
    if isinstance(url, str) and url.startswith("http") and url != service_url:
        activity["serviceUrl"] = service_url
    return activity


@FUZZ
@given(body=json_values)
def test_random_json_never_gets_a_500(served: Served, body: Any) -> None:
    status, answer = served.post(json.dumps(body).encode())
    assert status < 500, answer


@FUZZ
@given(data=st.data())
def test_mutated_activities_never_get_a_500(served: Served, data: st.DataObject) -> None:
    activity = data.draw(mutated_activities(served.service_url))
    status, answer = served.post(json.dumps(activity).encode())
    event(f"status {status}")
    assert status < 500, (activity, answer)


def nested(depth: int, leaf: Any, as_list: bool) -> str:
    """JSON text with `leaf` `depth` levels down (written as text: the json module itself
    cannot write what it cannot read)."""
    opening, closing = ("[", "]") if as_list else ('{"a":', "}")
    return opening * depth + json.dumps(leaf) + closing * depth


@st.composite
def hostile_bodies(draw: st.DrawFn, service_url: str) -> tuple[bytes, dict[str, str]]:
    """Bodies an attacker shapes: nested past any parser's depth, claiming an encoding
    they do not have (or have), or asking for the replies in the response."""
    activity = draw(mutated_activities(service_url))
    kind = draw(st.sampled_from(["deep", "deep_field", "encoding", "delivery_mode"]))
    headers: dict[str, str] = {}
    if kind == "deep":
        body = nested(draw(st.integers(500, 5000)), activity, draw(st.booleans())).encode()
    elif kind == "deep_field":
        depth = draw(st.integers(100, 3000))
        activity[draw(activity_keys)] = "@"
        deep = nested(depth, draw(json_values), draw(st.booleans()))
        body = json.dumps(activity).replace('"@"', deep, 1).encode()
    elif kind == "encoding":
        plain = json.dumps(activity).encode()
        encoding = draw(st.sampled_from(["gzip", "deflate", "br", "x-unknown", "identity"]))
        headers["Content-Encoding"] = encoding
        packed = {"gzip": gzip.compress(plain), "deflate": zlib.compress(plain)}
        body = packed.get(encoding, plain) if draw(st.booleans()) else plain
        if draw(st.booleans()):
            # Cut at a fraction, not at a drawn length: an activity carries a fresh id and
            # timestamp, so its length differs between a run and hypothesis' replay of it.
            body = body[: int(draw(st.floats(0, 1)) * len(body))]
    else:
        activity["deliveryMode"] = draw(
            st.sampled_from(["expectReplies", "normal", "notification", "", "x" * 300])
        )
        body = json.dumps(activity).encode()
    return body, headers


@FUZZ
@given(data=st.data())
def test_hostile_bodies_never_get_a_500_and_broken_ones_change_nothing(
    served: Served, data: st.DataObject
) -> None:
    body, headers = data.draw(hostile_bodies(served.service_url))
    before = _user_count(served)
    status, answer = served.post(body, headers=headers)
    event(f"status {status}")
    assert status < 500, answer
    if status >= 400:
        assert _user_count(served) == before


def _user_count(served: Served) -> int:
    connection = sqlite3.connect(served.database)
    try:
        (count,) = connection.execute("SELECT count(*) FROM users").fetchone()
        return int(count)
    finally:
        connection.close()


@FUZZ
@given(body=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "x/y"]))
def test_random_bytes_never_get_a_500(served: Served, body: bytes, content_type: str) -> None:
    status, answer = served.post(body, content_type)
    assert status < 500, answer
