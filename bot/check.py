"""`python -m bot check`: is this configuration ready to serve? Answers without serving.

Each finding is one plain line: `ok`, `warn` (works, but look at it) or `FAIL` (the bot
would not start or would not work). The exit status is 1 when anything failed.
`python -m bot ready` is the container health check: 0 when the running bot's /readyz
says it is ready.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.settings import Settings, SettingsError, TeamsAppSettings, is_loopback

DATABASE_TIMEOUT = 10.0


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)

    def ok(self, text: str) -> None:
        self.lines.append(("ok", text))

    def warn(self, text: str) -> None:
        self.lines.append(("warn", text))

    def fail(self, text: str) -> None:
        self.lines.append(("FAIL", text))

    @property
    def failed(self) -> bool:
        return any(level == "FAIL" for level, _ in self.lines)

    def text(self) -> str:
        return "\n".join(f"{level:<4}  {line}" for level, line in self.lines)


def check(environ: Mapping[str, str]) -> Report:
    report = Report()
    try:
        settings = Settings.from_env(environ)
    except SettingsError as error:
        report.fail(str(error))
        report.warn("database not checked: correct the setting above first")
        return report
    _check_serving(settings, report)
    _check_package(environ, settings, report)
    _check_observability(settings, report)
    path = settings.sqlite_path()
    if path is not None and not path.exists():
        # Connecting would create the file; a check changes nothing.
        report.warn(f"SQLite database {path} does not exist yet: it is created at first start")
    else:
        asyncio.run(_check_database(settings, report))
    return report


def _check_serving(settings: Settings, report: Report) -> None:
    try:
        settings.check_listen_address()
    except SettingsError as error:
        report.fail(str(error))
    if settings.authenticated:
        report.ok(
            f"Bot Framework app {settings.app_id} ({settings.app_type}"
            + (f", tenant {settings.app_tenant_id})" if settings.app_tenant_id else ")")
        )
        report.ok(f"links in cards point to {settings.public_url}")
    else:
        report.warn(
            "no MicrosoftAppId: requests are not authenticated, so the bot serves loopback "
            "only (local testing; Teams cannot reach it)"
        )
    report.ok(f"serves http://{settings.host}:{settings.port}/api/messages")
    if not settings.admins:
        report.warn("BOT_ADMINS is empty: nobody administers every team")
    else:
        report.ok(f"{len(settings.admins)} administrator(s) in BOT_ADMINS")


def _check_package(environ: Mapping[str, str], settings: Settings, report: Report) -> None:
    if not settings.authenticated:
        return
    try:
        app = TeamsAppSettings.from_env(environ)
    except SettingsError as error:
        report.fail(str(error))
        return
    unset = app.unset_urls()
    if unset:
        report.warn(
            f"{', '.join(unset)} not set: the Teams app package would link to example.invalid "
            "(fine for sideloading, not for the organisation's catalog)"
        )
    else:
        report.ok(f"Teams app '{app.name}' by {app.developer}, links set")


def _check_observability(settings: Settings, report: Report) -> None:
    if settings.metrics_port is None:
        report.ok("metrics not served (METRICS_PORT unset)")
    else:
        where = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
        guard = "bearer token required" if settings.metrics_token else "loopback only"
        report.ok(f"metrics on {where} ({guard})")
    report.ok(f"logs as {settings.log_format} at {settings.log_level}")
    if not is_loopback(settings.host) and settings.public_url.startswith("http://"):
        report.warn("PUBLIC_URL is http://: Teams users' browsers expect https://")


async def _check_database(settings: Settings, report: Report) -> None:
    # Imported here: `ready`, the health check, runs often and needs none of it.
    from storage.db import create_engine
    from storage.monitoring import schema_status

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            await asyncio.wait_for(connection.exec_driver_sql("SELECT 1"), DATABASE_TIMEOUT)
        where = engine.url.host or engine.url.database
        report.ok(f"database reachable ({engine.dialect.name}, {where})")
        status = await asyncio.wait_for(schema_status(engine), DATABASE_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - every failure is reported the same way
        report.fail(f"database not reachable: {_describe(error, engine.url.password)}")
        return
    finally:
        await engine.dispose()
    if not status.known:
        report.fail(
            f"database at revision {status.current}, which this version does not know: "
            "it was migrated by a newer version (run that one, or restore a backup)"
        )
    elif status.current is None:
        report.warn(f"database is empty: migrations up to {status.head} run at first start")
    elif not status.up_to_date:
        report.warn(
            f"database at revision {status.current}; this version migrates it to "
            f"{status.head} at start (or now: python -m bot migrate)"
        )
    else:
        report.ok(f"database schema up to date (revision {status.current})")


def _describe(error: BaseException, password: str | None) -> str:
    """The error's class and first line, never the database password."""
    detail = (str(error).strip().splitlines() or [""])[0][:200]
    if password:
        detail = detail.replace(password, "***")
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def ready(settings: Settings, timeout: float = 4.0) -> bool:
    """Whether the bot serving with these settings answers /readyz with 200."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{settings.port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
