"""`python -m bot` serves the bot; `python -m bot migrate` migrates; `python -m bot package`
builds the Teams app package to sideload."""

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

from bot.app import create_app
from bot.settings import Settings, SettingsError
from consultations.privacy import redact_identity_codes


class RedactingFormatter(logging.Formatter):
    """Defence in depth: no personal identity code reaches a log line, whatever logged it."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_identity_codes(super().format(record))


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
    settings = _settings()
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    companion = _start_playground(settings) if playground and not settings.authenticated else None
    # The dispatch tick runs every few seconds; its INFO lines would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    print(
        f"Työkykytiimi listening on http://{settings.host}:{settings.port}/api/messages",
        flush=True,
    )
    try:
        web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
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
    package_parser = sub.add_parser("package", help="build the Teams app package (zip)")
    package_parser.add_argument("--output", default="build/tyokykytiimi-teams-app.zip")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.command == "migrate":
        migrate()
    elif args.command == "package":
        from bot.package import build_package

        settings = _settings()
        path = build_package(settings, Path(args.output))
        print(f"Teams app package written to {path}")
    else:
        serve(playground=not getattr(args, "no_playground", False))


if __name__ == "__main__":
    main()
