"""Authentication can never freeze the bot: forged tokens while Microsoft's metadata host
hangs or refuses get a quick 401, /healthz keeps answering, and a flood of forged tokens
causes no flood of fetches. Bounds here are generous for CI; the figures are in bench/auth.py.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.jwks import JwksStub, channel_claims, jwks_stub, new_key, sign

APP_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
APP_TENANT = "99999999-8888-4777-8666-555555555555"
SERVICE_URL = "https://smba.trafficmanager.net/emea/"
BOUND = 1.0  # seconds; the measured p99 is far lower (docs/PERFORMANCE.md)
FLOOD = 200


@pytest.fixture
def stub() -> Iterator[JwksStub]:
    with jwks_stub() as running:
        yield running


async def _bot(make_bot: BotFactory, metadata_url: str) -> RunningBot:
    return await make_bot(
        app_id=APP_ID,
        app_password="not-a-real-secret",
        app_type="SingleTenant",
        app_tenant_id=APP_TENANT,
        public_url="https://bot.example.fi",
        openid_metadata_url=metadata_url,
    )


def forged_tokens(stub: JwksStub) -> list[str]:
    """The shapes an attacker tries: unsigned, signed by their own key (with a key id
    of ours or one of their own), and an honest token long expired."""
    claims = channel_claims(APP_ID, SERVICE_URL)
    now = int(time.time())
    stranger = new_key()
    return [
        jwt.encode(claims, key=None, algorithm="none"),
        sign(claims, key=stranger, kid="attackers-own"),
        sign(claims, key=stranger, kid=stub.kid),
        stub.sign(
            channel_claims(APP_ID, SERVICE_URL, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        ),
    ]


async def _timed(bot: RunningBot, token: str | None) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    started = time.monotonic()
    response = await bot.post(a.execute(SERVICE_URL, a.user(1), "help.open", {}), headers=headers)
    await response.read()
    return response.status, time.monotonic() - started


async def _healthz(bot: RunningBot) -> float:
    started = time.monotonic()
    response = await bot.client.get("/healthz")
    assert response.status == 200
    return time.monotonic() - started


async def _flood(bot: RunningBot, tokens: list[str]) -> tuple[list[Any], list[float]]:
    """FLOOD forged requests at once, with /healthz asked throughout."""
    attempts = [asyncio.ensure_future(_timed(bot, tokens[n % len(tokens)])) for n in range(FLOOD)]
    health = []
    while not all(t.done() for t in attempts):
        health.append(await _healthz(bot))
    return [t.result() for t in attempts], health


async def test_forged_tokens_get_401_at_once_while_the_metadata_host_hangs(
    make_bot: BotFactory, stub: JwksStub
) -> None:
    bot = await _bot(make_bot, stub.metadata_url)  # keys fetched as the bot starts
    fetched = len(stub.requests)
    stub.delay = 30.0  # from now on Microsoft's host accepts and never answers
    answers, health = await _flood(bot, forged_tokens(stub))
    assert {status for status, _ in answers} == {401}
    assert max(took for _, took in answers) < BOUND
    assert max(health) < BOUND
    # One background refresh at most, for the unknown key id; not one per request.
    assert len(stub.requests) - fetched <= 1
    # A valid token still gets through: its key is known.
    status, took = await _timed(bot, stub.sign(channel_claims(APP_ID, SERVICE_URL)))
    assert 200 <= status < 300 and took < BOUND


async def test_a_bot_that_starts_while_the_metadata_host_hangs_refuses_quickly(
    make_bot: BotFactory, stub: JwksStub
) -> None:
    stub.delay = 30.0
    bot = await _bot(make_bot, stub.metadata_url)  # the start waits out one fetch timeout
    fetched = len(stub.requests)
    answers, health = await _flood(bot, forged_tokens(stub))
    assert {status for status, _ in answers} == {401}
    assert max(took for _, took in answers) < BOUND
    assert max(health) < BOUND
    assert len(stub.requests) == fetched, "the failed fetch is remembered"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_forged_tokens_get_401_at_once_when_the_metadata_host_refuses(
    make_bot: BotFactory, stub: JwksStub
) -> None:
    refusing = f"http://127.0.0.1:{_closed_port()}/.well-known/openid-configuration"
    bot = await _bot(make_bot, refusing)
    answers, health = await _flood(bot, forged_tokens(stub))
    assert {status for status, _ in answers} == {401}
    assert max(took for _, took in answers) < BOUND
    assert max(health) < BOUND
    assert bot.components.keys is not None and bot.components.keys.fetches == 1
