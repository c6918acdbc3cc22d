"""`python -m bot` serves the bot; `migrate` migrates; `check` says whether the configuration
is ready to serve; `ready` is the container health check; `package` builds the Teams app
package to sideload or upload to the organisation's catalog."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from bot import logs
from bot.logs import RedactingFormatter as RedactingFormatter
from bot.settings import Settings, SettingsError, TeamsAppSettings

log = logging.getLogger("bot")
ROOT = Path(__file__).resolve().parent.parent
PLAYGROUND_DIR = ROOT / "tests" / "e2e" / "playground_npm"
PLAYGROUND_PORT = 56150


def _settings() -> Settings:
    try:
        settings = Settings.from_env(os.environ)
        settings.check_listen_address()
    except SettingsError as error:
        print(f"tyokykytiimi: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def _start_playground(settings: Settings) -> subprocess.Popen[bytes] | None:
    binary = PLAYGROUND_DIR / "node_modules" / ".bin" / "agentsplayground"
    if shutil.which("node") is None or not binary.exists():
        print(
            "Agents Playground not started (needs Node.js; scripts/run installs it).",
            file=sys.stderr,
            flush=True,
        )
        return None
    env = {
        **os.environ,
        "TEAMSAPPTESTER_BROWSER": "none",
        "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",
    }
    endpoint = f"http://127.0.0.1:{settings.port}/api/messages"
    process = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(PLAYGROUND_PORT),
            "--app-endpoint",
            endpoint,
            "--channel-id",
            "msteams",
            "--disable-telemetry",
        ],
        cwd=PLAYGROUND_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    print(
        f"Agents Playground: open http://localhost:{PLAYGROUND_PORT} (talks to {endpoint})",
        flush=True,
    )
    return process


def serve(playground: bool) -> None:
    # Imported here: check, ready and package start without the SDK (ready runs every
    # 30 s as the container health check).
    from bot.app import create_app

    settings = _settings()
    logs.configure(settings.log_format, settings.log_level)
    companion = _start_playground(settings) if playground and not settings.authenticated else None

    def listening(_banner: str) -> None:
        # aiohttp calls this once the migrations ran and the port is open.
        log.info(
            "Työkykytiimi listening on http://%s:%s/api/messages", settings.host, settings.port
        )

    try:
        web.run_app(create_app(settings), host=settings.host, port=settings.port, print=listening)
    finally:
        if companion is not None and companion.poll() is None:
            os.killpg(companion.pid, signal.SIGTERM)
            companion.wait(timeout=10)


def migrate() -> None:
    from storage.db import create_engine
    from storage.migrate import current_revision, upgrade

    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    print(f"database at revision {asyncio.run(run())}")


def package(output: Path) -> None:
    """Build the package; needs only MicrosoftAppId (and the optional TEAMS_APP_*)."""
    from bot.package import build_package

    try:
        app = TeamsAppSettings.from_env(os.environ)
        path = build_package(app, output)
    except SettingsError as error:
        print(f"tyokykytiimi: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    for name in app.unset_urls():
        print(
            f"note: {name} is not set; set it before uploading to the organisation's catalog",
            file=sys.stderr,
        )
    print(f"Teams app package written to {path}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Työkykytiimi Teams bot")
    no_playground = "serve without the Agents Playground beside the bot"
    # Serving is the default, so its option works without the word "serve" too
    # (`scripts/run --no-playground`).
    parser.add_argument("--no-playground", action="store_true", help=no_playground)
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="serve the bot (the default)")
    serve_parser.add_argument(
        "--no-playground", action="store_true", default=argparse.SUPPRESS, help=no_playground
    )
    sub.add_parser("migrate", help="apply database migrations and exit")
    sub.add_parser(
        "check", help="check the configuration and the database without serving (exit 1: problems)"
    )
    sub.add_parser("ready", help="exit 0 when the running bot answers /readyz (health check)")
    package_parser = sub.add_parser("package", help="build the Teams app package (zip)")
    package_parser.add_argument("--output", default="build/tyokykytiimi-teams-app.zip")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.command == "migrate":
        migrate()
    elif args.command == "check":
        from bot.check import check

        report = check(os.environ)
        print(report.text())
        raise SystemExit(1 if report.failed else 0)
    elif args.command == "ready":
        from bot.check import ready

        raise SystemExit(0 if ready(_settings()) else 1)
    elif args.command == "package":
        package(Path(args.output))
    else:
        serve(playground=not getattr(args, "no_playground", False))


if __name__ == "__main__":
    main()
