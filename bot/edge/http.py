"""The HTTP edge: `POST /api/messages` (body, shape, authentication) and the health checks.

Whatever a caller sends - a body that is not JSON, JSON nested a thousand levels deep, a
`Content-Encoding` the body does not have, a forged token - gets a 4xx with a short reason
and changes nothing; only an activity that passed every check reaches the dispatcher, which
never raises. No response announces the server's software.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.edge.activity import json_str, problem
from bot.edge.auth import ChannelAuthentication, Unauthorized
from dialogs.cards.base import json_bytes

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
SERVER_NAME = "tyokykytiimi"
# What the edge answers an activity with: an HTTP status, a JSON body (or None) and, for
# the metrics, how the turn went (ok, refused, error).
Dispatch = Callable[[Mapping[str, Any]], Awaitable[tuple[int, Any, str]]]
# Hears every request: (kind, result, seconds) - see bot.metrics.
Observe = Callable[[str, str, float], None]
UNVERIFIED = "unverified"


def json_loads(raw: bytes) -> Any:
    """json.loads, faster: orjson first; what orjson refuses and the json module reads
    (an integer beyond 64 bits in a tampered payload) still reads the same."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def bad_request(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _body(request: web.Request) -> Any | web.Response:
    """The request's JSON, or the 4xx that refuses it."""
    if request.content_type != "application/json":
        return bad_request("content type must be application/json", 415)
    if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        # The Bot Connector never compresses what it posts; a body that claims to be
        # compressed is refused before anything tries to decompress it.
        return bad_request("content encoding not supported", 415)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return bad_request("activity too large", 413)
    except Exception:  # noqa: BLE001 - a body that does not decode as its encoding says
        return bad_request("body does not match its content encoding")
    try:
        return json_loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return bad_request("body is not JSON")


class Edge:
    def __init__(
        self,
        *,
        authentication: ChannelAuthentication | None,
        dispatch: Dispatch,
        observe: Observe,
        kind: Callable[[Any], str],
    ) -> None:
        self._authentication = authentication
        self._dispatch = dispatch
        self._observe = observe
        self._kind = kind

    async def messages(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        data = await _body(request)
        if isinstance(data, web.Response):
            self._observe(UNVERIFIED, "invalid", time.perf_counter() - started)
            return data
        why = problem(data)
        if why is not None:
            self._observe(UNVERIFIED, "invalid", time.perf_counter() - started)
            return bad_request(why)
        if self._authentication is not None:
            try:
                await self._authentication.check(
                    request.headers.get("Authorization"),
                    json_str(data, "channelId"),
                    json_str(data, "serviceUrl"),
                )
            except Unauthorized as refused:
                log.info("request refused: %s (activity %s)", refused, json_str(data, "id")[:64])
                # Named by nothing it says: labels cannot be made without a valid token.
                self._observe(UNVERIFIED, "unauthorized", time.perf_counter() - started)
                return bad_request("unauthorized", 401)
        status, body, outcome = await self._dispatch(data)
        self._observe(self._kind(data), outcome, time.perf_counter() - started)
        if body is None:
            return web.Response(status=status)
        return web.Response(body=json_bytes(body), status=status, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def readyz(
    engine: Callable[[], AsyncEngine | None],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def ready(request: web.Request) -> web.Response:
        found = engine()
        if found is None:
            return web.json_response({"status": "starting"}, status=503)
        try:
            async with found.connect() as connection:
                await asyncio.wait_for(connection.execute(text("SELECT 1")), timeout=5)
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            log.warning("database not reachable: %s", type(error).__name__)
            return web.json_response({"status": "database unreachable"}, status=503)
        return web.json_response({"status": "ready"})

    return ready


async def _quiet_server_header(request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp would say "Python/3.x aiohttp/3.x": a free hint for an attacker.
    response.headers["Server"] = SERVER_NAME


def add_routes(
    app: web.Application,
    messages: Callable[[web.Request], Awaitable[web.StreamResponse]],
    engine: Callable[[], AsyncEngine | None],
) -> None:
    app.on_response_prepare.append(_quiet_server_header)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz(engine))
