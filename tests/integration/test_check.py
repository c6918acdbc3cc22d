"""`python -m bot check` and what it reads from the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.__main__ import main
from bot.check import check
from storage.db import create_engine
from storage.migrate import upgrade
from storage.monitoring import outbox_depth, schema_status
from storage.tables import outbox

APP = {
    "MicrosoftAppId": "0c5c3d2e-1111-4222-8333-944445555666",
    "MicrosoftAppPassword": "not-a-real-secret",
    "MicrosoftAppTenantId": "11111111-2222-3333-4444-555555555555",
    "HOST": "0.0.0.0",
    "PUBLIC_URL": "https://tyokykytiimi.example.fi",
}
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _migrate(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def _execute(url: str, sql: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_ready_configuration_reports_only_ok_lines(database_url: str) -> None:
    _migrate(database_url)

    report = check({**APP, "DATABASE_URL": database_url, "BOT_ADMINS": APP["MicrosoftAppId"]})

    lines = report.text().splitlines()
    assert not report.failed
    assert "ok    links in cards point to https://tyokykytiimi.example.fi" in lines
    assert any(line.startswith("ok    database reachable (") for line in lines)
    assert any(line.startswith("ok    database schema up to date (revision ") for line in lines)
    # Only the reserved listing addresses of the Teams package are left to set.
    assert [line for line in lines if not line.startswith("ok")] == [
        "warn  TEAMS_APP_WEBSITE_URL, TEAMS_APP_PRIVACY_URL, TEAMS_APP_TERMS_URL not set: the "
        "Teams app package would link to example.invalid (fine for sideloading, not for the "
        "organisation's catalog)"
    ]


def test_an_empty_database_is_migrated_at_start_and_says_so(pg_url: str) -> None:
    report = check({"DATABASE_URL": pg_url})
    assert not report.failed
    assert any(
        line.startswith("warn  database is empty: migrations up to ")
        for line in report.text().splitlines()
    )


def test_a_database_migrated_by_a_newer_version_fails(database_url: str) -> None:
    _migrate(database_url)
    _execute(database_url, "UPDATE alembic_version SET version_num = 'from_the_future'")

    report = check({"DATABASE_URL": database_url})

    assert report.failed
    assert (
        "FAIL  database at revision from_the_future, which this version does not know: it was "
        "migrated by a newer version (run that one, or restore a backup)"
    ) in report.text().splitlines()


def test_an_unreachable_database_fails_without_showing_its_password() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+asyncpg://bot:hunter2-secret@127.0.0.1:{port}/bot"

    report = check({"DATABASE_URL": url})

    failures = [line for line in report.text().splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1
    assert failures[0].startswith("FAIL  database not reachable: ")
    assert "hunter2-secret" not in report.text()


def test_a_missing_sqlite_file_is_not_created_by_the_check(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    report = check({"DATABASE_URL": f"sqlite+aiosqlite:///{path}"})
    assert not report.failed
    assert f"warn  SQLite database {path} does not exist yet: it is created at first start" in (
        report.text().splitlines()
    )
    assert not path.exists()


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({**APP, "PUBLIC_URL": ""}, "FAIL  PUBLIC_URL (https://…) is required when MicrosoftAppId"),
        ({"HOST": "0.0.0.0"}, "FAIL  refusing to listen on 0.0.0.0"),
        ({**APP, "TEAMS_APP_NAME": "x" * 31}, "FAIL  TEAMS_APP_NAME must be at most 30"),
    ],
)
def test_python_m_bot_check_names_what_is_wrong_and_exits_1(
    environ: dict[str, str],
    complaint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppTenantId", "PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/b.db", **environ}.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as exit_:
        main(["check"])

    assert exit_.value.code == 1
    assert any(line.startswith(complaint) for line in capsys.readouterr().out.splitlines())


async def test_the_outbox_depth_counts_what_waits_and_how_long(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        rows = [
            ("pending", NOW - timedelta(minutes=7)),
            ("pending", NOW - timedelta(minutes=1)),
            ("pending", NOW + timedelta(days=1)),  # a reminder for tomorrow: not yet due
            ("sending", NOW),
            ("dead", NOW - timedelta(days=2)),
            ("sent", NOW - timedelta(days=3)),
        ]
        async with engine.begin() as connection:
            for n, (status, due_at) in enumerate(rows):
                await connection.execute(
                    outbox.insert().values(
                        idempotency_key=f"k{n}",
                        kind="text",
                        subject="",
                        recipient_type="user",
                        recipient_id="1",
                        payload={},
                        due_at=due_at,
                        status=status,
                        attempts=0,
                        created_at=NOW,
                    )
                )
        depth = await outbox_depth(engine, NOW)
        status = await schema_status(engine)
    finally:
        await engine.dispose()

    assert depth.by_state == {"pending": 3, "sending": 1, "dead": 1}
    assert depth.due == 2
    assert depth.oldest_due_seconds == 420.0
    assert status.up_to_date and status.known
