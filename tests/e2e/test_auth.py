"""Authentication of incoming activities, end to end through the real app.

The bot runs with credentials and reads the Bot Connector's OpenID metadata from a
loopback JWKS stub (tests/support/jwks.py); tokens are signed with the stub's key.
The activity used is an `adaptiveCard/action` invoke: its answer is the HTTP response
itself, so the bot needs no outgoing token, and it records the sender in `users`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botframework.connector.auth import ChannelValidation
from sqlalchemy import select

from bot.settings import Settings, SettingsError
from storage.tables import users
from tests.conftest import BotFactory, RunningBot
from tests.support import activities as a
from tests.support.jwks import JwksStub, channel_claims, jwks_stub, new_key, sign

APP_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
APP_TENANT = "99999999-8888-4777-8666-555555555555"
SERVICE_URL = "https://smba.trafficmanager.net/emea/"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksStub]:
    with jwks_stub() as running:
        yield running


METADATA_SETTING = "metadata-setting"
PUBLIC_CLOUD = "public-cloud"


@pytest.fixture(params=[METADATA_SETTING, PUBLIC_CLOUD])
def route(request: pytest.FixtureRequest) -> str:
    """How the bot finds the channel's keys.

    metadata-setting: Settings.openid_metadata_url, the knob meant for tests.
    public-cloud: the production configuration (no openid_metadata_url); only the SDK's
    public-cloud metadata endpoint (ChannelValidation.open_id_metadata_endpoint) is
    pointed at the stub.
    """
    return str(request.param)


VERB = "help.open"


@pytest.fixture(params=["help.open", "request.my"], ids=["sdk-turn", "card-flow"])
def verb(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Two card actions of different flows: every activity takes the one road, and the
    edge authenticates it before any flow sees it."""
    monkeypatch.setattr(sys.modules[__name__], "VERB", request.param)
    return str(request.param)


@pytest.fixture
async def bot(
    route: str,
    verb: str,
    make_bot: BotFactory,
    stub: JwksStub,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningBot:
    return await _start(route, make_bot, stub, monkeypatch)


async def _start(
    route: str, make_bot: BotFactory, stub: JwksStub, monkeypatch: pytest.MonkeyPatch
) -> RunningBot:
    overrides: dict[str, Any] = {}
    if route == METADATA_SETTING:
        overrides["openid_metadata_url"] = stub.metadata_url
    else:
        monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", stub.metadata_url)
    return await make_bot(
        app_id=APP_ID,
        app_password="not-a-real-secret",
        app_type="SingleTenant",
        app_tenant_id=APP_TENANT,
        **overrides,
    )


def _activity(n: int = 1) -> dict[str, Any]:
    # serviceUrl is never called: an invoke is answered in the HTTP response.
    return a.execute(SERVICE_URL, a.user(n), VERB, {})


async def _user_ids(bot: RunningBot) -> list[str]:
    async with bot.components.engine.connect() as connection:
        rows = await connection.execute(select(users.c.teams_user_id))
        return [row[0] for row in rows]


async def _post(bot: RunningBot, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization is not None else None
    response = await bot.post(_activity(), headers=headers)
    await response.read()
    status: int = response.status
    return status


async def _assert_refused(bot: RunningBot, token: str) -> None:
    assert await _post(bot, f"Bearer {token}") == 401
    assert await _user_ids(bot) == [], "a refused activity must not reach the bot"


async def test_a_valid_channel_token_is_accepted(
    request: pytest.FixtureRequest, route: str, bot: RunningBot, stub: JwksStub
) -> None:
    token = stub.sign(channel_claims(APP_ID, SERVICE_URL))
    response = await bot.post(_activity(), headers={"Authorization": f"Bearer {token}"})
    assert 200 <= response.status < 300, await response.text()
    body = await response.json()
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert await _user_ids(bot) == ["29:user-1"]
    assert "/keys" in stub.requests


async def test_no_authorization_header_is_401(
    request: pytest.FixtureRequest, route: str, bot: RunningBot
) -> None:
    assert await _post(bot, None) == 401
    assert await _user_ids(bot) == []


async def test_a_token_signed_by_another_key_is_401(
    request: pytest.FixtureRequest, route: str, bot: RunningBot, stub: JwksStub
) -> None:
    await _assert_refused(
        bot, sign(channel_claims(APP_ID, SERVICE_URL), key=new_key(), kid=stub.kid)
    )


async def test_a_token_with_an_unknown_key_id_is_401(
    request: pytest.FixtureRequest, route: str, bot: RunningBot
) -> None:
    await _assert_refused(
        bot, sign(channel_claims(APP_ID, SERVICE_URL), key=new_key(), kid="someone-elses")
    )


async def test_an_expired_token_is_401(
    request: pytest.FixtureRequest, route: str, bot: RunningBot, stub: JwksStub
) -> None:
    now = int(time.time())
    # Expired well beyond the SDK's five minutes of clock tolerance.
    claims = channel_claims(APP_ID, SERVICE_URL, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    await _assert_refused(bot, stub.sign(claims))


async def test_a_token_for_another_audience_is_401(bot: RunningBot, stub: JwksStub) -> None:
    other_app = "11111111-2222-4333-8444-555555555555"
    await _assert_refused(bot, stub.sign(channel_claims(other_app, SERVICE_URL)))


async def test_a_token_from_another_issuer_is_401(bot: RunningBot, stub: JwksStub) -> None:
    claims = channel_claims(APP_ID, SERVICE_URL, iss="https://evil.example.com")
    await _assert_refused(bot, stub.sign(claims))


async def test_a_token_for_another_service_url_is_401(bot: RunningBot, stub: JwksStub) -> None:
    await _assert_refused(bot, stub.sign(channel_claims(APP_ID, "https://evil.example.com/")))


async def test_a_key_not_endorsed_for_msteams_is_401(
    route: str,
    verb: str,
    make_bot: BotFactory,
    stub: JwksStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The keys are read as the bot starts: Microsoft's key endorses other channels only.
    stub.endorsements = ["webchat"]
    bot = await _start(route, make_bot, stub, monkeypatch)
    await _assert_refused(bot, stub.sign(channel_claims(APP_ID, SERVICE_URL)))


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer  x y"],
)
async def test_a_garbled_authorization_header_is_401(
    request: pytest.FixtureRequest, route: str, bot: RunningBot, header: str
) -> None:
    assert await _post(bot, header) == 401
    assert await _user_ids(bot) == []


# --- where an unauthenticated bot may listen -----------------------------------------------


def test_python_m_bot_without_credentials_refuses_to_listen_on_all_interfaces(
    tmp_path: Path,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("Microsoft") and key not in ("HOST", "PORT", "BOT_ADMINS")
    }
    env.update(HOST="0.0.0.0", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--no-playground"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "loopback" in lines[0]
    assert "0.0.0.0" in lines[0]
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "bot.example.com"])
def test_settings_without_credentials_refuse_non_loopback(host: str) -> None:
    with pytest.raises(SettingsError, match="loopback"):
        Settings(host=host).check_listen_address()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_settings_without_credentials_allow_loopback(host: str) -> None:
    Settings(host=host).check_listen_address()


def test_settings_with_credentials_may_listen_anywhere() -> None:
    settings = Settings.from_env(
        {
            "HOST": "0.0.0.0",
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": "not-a-real-secret",
            "MicrosoftAppType": "SingleTenant",
            "MicrosoftAppTenantId": APP_TENANT,
            "PUBLIC_URL": "https://bot.example.org",
        }
    )
    assert settings.authenticated
    settings.check_listen_address()
