from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import COMPONENTS, Components, create_app
from bot.settings import Settings
from tests.support.connector import LoopbackConnector
from tests.support.postgres import PostgresServer, find_bindir, start_postgres

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(autouse=True)
def _only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt to a non-loopback address fails the test."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address and isinstance(address[0], str):
            host = address[0]
            if not (host.startswith("127.") or host in ("::1", "localhost")):
                raise AssertionError(f"test tried to reach {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if find_bindir() is None:
        if IN_CI:
            pytest.fail("PostgreSQL must be installed in CI (.ci/run installs it)")
        pytest.skip("PostgreSQL is not installed here")
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


def _new_pg_database(server: PostgresServer) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.psql(f"CREATE DATABASE {name}")
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return _new_pg_database(server)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return _new_pg_database(postgres)


@pytest.fixture
async def connector() -> AsyncIterator[tuple[LoopbackConnector, str]]:
    fake = LoopbackConnector()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@dataclass
class RunningBot:
    client: TestClient[web.Request, web.Application]
    settings: Settings

    @property
    def components(self) -> Components:
        return self.client.server.app[COMPONENTS]

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return await self.client.post("/api/messages", json=activity, headers=headers)

    async def invoke(self, activity: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(activity)
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def close(self) -> None:
        await self.client.close()


BotFactory = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def make_bot(tmp_path: Path) -> AsyncIterator[BotFactory]:
    started: list[RunningBot] = []

    async def factory(database_url: str | None = None, **overrides: Any) -> RunningBot:
        clock = overrides.pop("clock", None)
        settings = replace(
            Settings(
                database_url=database_url or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                run_scheduler=False,
            ),
            **overrides,
        )
        app = create_app(settings, clock=clock)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        bot = RunningBot(client, settings)
        started.append(bot)
        return bot

    yield factory
    for bot in started:
        await bot.close()
