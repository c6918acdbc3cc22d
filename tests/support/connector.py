"""A loopback Bot Connector: records what the bot sends, enforces Teams' rate limits,
and answers with scripted faults (429 with Retry-After, 412, 5xx, 403)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Sent:
    conversation_id: str
    activity: dict[str, Any]
    activity_id: str
    at: float
    method: str = "POST"
    reply_to: str | None = None


@dataclass
class Limits:
    per_conversation_per_second: int = 7
    per_conversation_per_30s: int = 60
    per_tenant_per_second: int = 50
    window_scale: float = 1.0  # <1 shortens the windows to keep long runs short


@dataclass
class LoopbackConnector:
    limits: Limits | None = None
    sent: list[Sent] = field(default_factory=list)
    updates: list[Sent] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    throttled: int = 0
    faults: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    # conversation id -> status to answer every send with (e.g. 403 for a blocked user)
    blocked: dict[str, int] = field(default_factory=dict)
    roster: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    latency: float = 0.0
    on_send: Any = None

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._tenant: deque[float] = deque()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/v3/conversations/{cid}/members", self._members)
        app.router.add_get("/v3/conversations/{cid}/pagedmembers", self._paged)
        app.router.add_get("/v3/teams/{tid}/conversations", self._channels)
        app.router.add_get("/v3/teams/{tid}", self._team)
        return app

    def _over_limit(self, conversation: str) -> bool:
        if self.limits is None:
            return False
        now = time.monotonic()
        scale = self.limits.window_scale
        recent = self._recent[conversation]
        while recent and now - recent[0] > 30 * scale:
            recent.popleft()
        while self._tenant and now - self._tenant[0] > 1 * scale:
            self._tenant.popleft()
        last_second = sum(1 for t in recent if now - t <= 1 * scale)
        if (
            last_second >= self.limits.per_conversation_per_second
            or len(recent) >= self.limits.per_conversation_per_30s
            or len(self._tenant) >= self.limits.per_tenant_per_second
        ):
            return True
        recent.append(now)
        self._tenant.append(now)
        return False

    async def _fault(self, conversation: str) -> web.Response | None:
        if self.latency:
            await asyncio.sleep(self.latency)
        if conversation in self.blocked:
            return web.json_response(
                {"error": {"code": "ConversationBlockedByUser"}}, status=self.blocked[conversation]
            )
        if self.faults:
            status, headers = self.faults.popleft()
            if status == 0:  # a scripted "this one goes through"
                return None
            return web.json_response(
                {"error": {"code": "Injected"}}, status=status, headers=headers
            )
        if self._over_limit(conversation):
            self.throttled += 1
            return web.json_response(
                {"error": {"code": "TooManyRequests"}}, status=429, headers={"Retry-After": "1"}
            )
        return None

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        fault = await self._fault("create")
        if fault is not None:
            return fault
        self.created.append(body)
        member = body["members"][0]["id"]
        return web.json_response({"id": f"a:personal-{member}"})

    async def _send(self, request: web.Request) -> web.Response:
        conversation = request.match_info["cid"]
        body = await request.json()
        fault = await self._fault(conversation)
        if fault is not None:
            return fault
        activity_id = f"act-{next(self._ids)}"
        self.sent.append(
            Sent(
                conversation,
                body,
                activity_id,
                time.monotonic(),
                reply_to=request.match_info.get("aid"),
            )
        )
        if self.on_send is not None:
            self.on_send(self.sent[-1])
        return web.json_response({"id": activity_id})

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.updates.append(
            Sent(
                request.match_info["cid"], body, request.match_info["aid"], time.monotonic(), "PUT"
            )
        )
        return web.json_response({"id": request.match_info["aid"]})

    async def _members(self, request: web.Request) -> web.Response:
        return web.json_response(self.roster)

    async def _paged(self, request: web.Request) -> web.Response:
        start = int(request.query.get("continuationToken") or 0)
        page = self.roster[start : start + self.page_size]
        body: dict[str, Any] = {"members": page}
        if start + self.page_size < len(self.roster):
            body["continuationToken"] = str(start + self.page_size)
        return web.json_response(body)

    async def _channels(self, request: web.Request) -> web.Response:
        return web.json_response({"conversations": self.channels})

    async def _team(self, request: web.Request) -> web.Response:
        tid = request.match_info["tid"]
        return web.json_response({"id": tid, "name": "Team", "aadGroupId": "g"})

    def cards(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        return [
            a["content"]
            for s in self.sent
            if conversation_id is None or s.conversation_id == conversation_id
            for a in s.activity.get("attachments") or []
        ]

    def texts(self, conversation_id: str | None = None) -> list[str]:
        return [
            s.activity.get("text") or ""
            for s in self.sent
            if conversation_id is None or s.conversation_id == conversation_id
        ]
