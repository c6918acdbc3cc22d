"""What an attacker or a confused client can send to /api/messages: each gets a 4xx or a
correct answer, nothing is logged as a traceback, and the bot goes on."""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from typing import Any

import pytest

from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.connector import LoopbackConnector

TEAM = "19:team-general@thread.tacv2"


async def _post(
    bot: RunningBot, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    response = await bot.client.post(
        "/api/messages",
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        # The body is sent exactly as given: the client must not decode or re-encode it.
        skip_auto_headers=["Content-Encoding"],
    )
    return response.status, await response.read()


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("depth", [1_100, 5_000, 100_000])
@pytest.mark.parametrize("opening", ["[", '{"a":'])
async def test_json_nested_past_any_parser_is_400_and_no_traceback(
    make_bot: BotFactory, caplog: pytest.LogCaptureFixture, depth: int, opening: str
) -> None:
    bot = await make_bot()
    closing = "]" if opening == "[" else "}"
    body = (opening * depth + "1" + closing * depth).encode()
    status, _ = await _post(bot, body)
    assert status in (400, 413)
    _no_tracebacks(caplog)
    # The bot goes on.
    assert (await bot.client.get("/healthz")).status == 200


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "x-gzip", "compress"])
@pytest.mark.parametrize("packed", [False, True], ids=["plain-body", "packed-body"])
async def test_a_compressed_body_is_refused_before_anything_reads_it(
    make_bot: BotFactory,
    connector: tuple[LoopbackConnector, str],
    caplog: pytest.LogCaptureFixture,
    encoding: str,
    packed: bool,
) -> None:
    # The Bot Connector never compresses; a body that says it is compressed (whether it
    # is or not) gets a 415, and no decompression error surfaces in the logs.
    fake, url = connector
    bot = await make_bot()
    body = json.dumps(a.text(url, a.user(1), "apua")).encode()
    if packed:
        body = zlib.compress(body) if encoding == "deflate" else gzip.compress(body)
    status, _ = await _post(bot, body, {"Content-Encoding": encoding})
    assert status == 415
    assert fake.sent == []
    _no_tracebacks(caplog)
    status, _ = await _post(bot, json.dumps(a.text(url, a.user(1), "apua")).encode())
    assert status == 200 and len(fake.sent) == 1


async def test_expect_replies_gets_the_replies_in_the_response(
    make_bot: BotFactory, connector: tuple[LoopbackConnector, str]
) -> None:
    fake, url = connector
    bot = await make_bot()
    activity = a.text(url, a.user(1), "help", locale="en-US")
    activity["deliveryMode"] = "expectReplies"
    status, body = await _post(bot, json.dumps(activity).encode())
    assert status == 200
    replies = json.loads(body)["activities"]
    assert [r["attachments"][0]["content"]["body"][0]["text"] for r in replies] == [
        "Työkykytiimi – help"
    ]
    assert fake.sent == []  # nothing went through the connector


def _update(url: str, **changes: Any) -> dict[str, Any]:
    activity = a.bot_added_to_team(url, a.user(1), TEAM)
    activity.update(changes)
    return activity


@pytest.mark.parametrize(
    "activity",
    [
        lambda url: _update(url, membersAdded=[{"name": "no id"}]),
        lambda url: _update(url, membersRemoved=[{"id": ""}]),
        lambda url: _update(url, channelData={"team": {"name": "no id"}}),
        lambda url: _update(url, channelData=None),
        lambda url: {**a.team_installed(url, a.user(1), TEAM), "channelData": None},
        lambda url: {**a.team_installed(url, a.user(1), TEAM), "channelData": {"team": {}}},
    ],
    ids=[
        "member-without-id",
        "removed-member-empty-id",
        "team-without-id",
        "channel-data-null",
        "install-channel-data-null",
        "install-team-empty",
    ],
)
async def test_a_malformed_membership_event_is_ignored_and_says_nothing_in_the_channel(
    make_bot: BotFactory,
    connector: tuple[LoopbackConnector, str],
    caplog: pytest.LogCaptureFixture,
    activity: Any,
) -> None:
    fake, url = connector
    bot = await make_bot()
    status, _ = await _post(bot, json.dumps(activity(url)).encode())
    assert status == 200
    assert fake.sent == []
    _no_tracebacks(caplog)


async def test_no_response_names_the_server_software(make_bot: BotFactory) -> None:
    bot = await make_bot()
    for response in (
        await bot.client.get("/healthz"),
        await bot.client.get("/no-such-page"),
        await bot.client.post("/api/messages", data=b"{", headers={"Content-Type": "x/y"}),
    ):
        server = response.headers.get("Server", "")
        assert "Python" not in server and "aiohttp" not in server, server


@pytest.mark.parametrize(
    "name", ["task/fetch", "composeExtension/query", "signin/verifyState", "config/fetch", "x"]
)
async def test_an_invoke_the_app_does_not_declare_is_acknowledged_without_an_error(
    make_bot: BotFactory,
    connector: tuple[LoopbackConnector, str],
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    _fake, url = connector
    bot = await make_bot()
    activity = a.personal(url, a.user(1), type="invoke", name=name, value={"x": 1})
    status, body = await _post(bot, json.dumps(activity).encode())
    assert (status, json.loads(body)) == (200, {})
    _no_tracebacks(caplog)
