"""Test harness for Microsoft 365 Agents Playground (``@microsoft/m365agentsplayground@0.2.28``).

Drives the Playground's private HTTP/WebSocket API (no browser). The API is
undocumented and only verified against the pinned version; see
``tests/e2e/PLAYGROUND_NOTES.md`` for the request/response shapes.

Usage (plain async helpers; wire into fixtures yourself)::

    pg = await start_playground("http://127.0.0.1:3978/api/messages", tmp_path)
    try:
        cfg = await pg.config()
        chat = pg.personal_chat_id
        await pg.install(chat)
        mark = pg.mark()
        await pg.send_text(chat, "hello")
        reply = await pg.wait_for_message(lambda m: m.conversation_id == chat, start=mark)
    finally:
        await pg.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

JSON = dict[str, Any]

NPM_DIR = Path(__file__).resolve().parent / "playground_npm"
BIN = NPM_DIR / "node_modules" / ".bin" / "agentsplayground"
CONFIG_FILE_NAME = ".m365agentsplayground.yml"
LOG_FILE_RELATIVE = Path("devTools") / "m365agentsplayground.log"
STDOUT_FILE_NAME = "playground.stdout.log"

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

# Inherited variables that change the Playground's behaviour; scrubbed so a
# developer's shell cannot leak into tests (AUTH_* would make it fetch real tokens).
_SCRUBBED_ENV = (
    "AUTH_CLIENT_ID",
    "AUTH_CLIENT_SECRET",
    "AUTH_TENANT_ID",
    "BOT_ENDPOINT",
    "DEFAULT_CHANNEL_ID",
    "SEND_INSTALLATION_ACTIVITY",
    "TEAMSAPPTESTER_PORT",
    "TEAMSAPPTESTER_LOGFILE",
    "TEAMS_APP_TEST_TOOL_CONFIG_PATH",
    "M365_AGENTS_PLAYGROUND_CONFIG_PATH",
    "M365_AGENTS_PLAYGROUND_LOGFILE",
    "M365_AGENTS_PLAYGROUND_CONVERSATION_ID",
    "M365_AGENTS_PLAYGROUND_SERVICE_URL",
    "M365_AGENTS_PLAYGROUND_DELIVERY_MODE",
    "M365_AGENTS_PLAYGROUND_TARGET_SDK",
    "M365_AGENTS_PLAYGROUND_ENABLE_EVENTS_RECORDING",
    "M365_AGENTS_PLAYGROUND_RECORDING_FILE",
)


class PlaygroundError(RuntimeError):
    """Raised when the Playground fails to start or an API call fails."""


class PlaygroundHTTPError(PlaygroundError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:2000]}")
        self.method = method
        self.path = path
        self.status = status
        self.body = body


@dataclass(frozen=True)
class BotMessage:
    """One ``createMessage`` / ``updateMessage`` frame from the conversation WebSocket."""

    action: str  # "createMessage" | "updateMessage"
    conversation_id: str  # frame's actionConversationId
    message_id: str
    timestamp: int  # ms since epoch
    text: str | None
    attachments: list[JSON]
    raw: JSON
    received_at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> JSON:
        msg: JSON = self.raw.get("message") or {}
        return msg

    @property
    def root_conversation_id(self) -> str:
        """Conversation id without the ``;messageid=...`` thread suffix."""
        return self.conversation_id.split(";", 1)[0]

    @property
    def post_conversation_id(self) -> str | None:
        """Set on the root message of a new channel post (``<channel>;messageid=<id>``)."""
        value = self.message.get("postConversationId")
        return value if isinstance(value, str) else None

    @property
    def cards(self) -> list[JSON]:
        """Adaptive Card payloads (``attachment.content``) of this message."""
        return [
            a["content"]
            for a in self.attachments
            if a.get("contentType") == ADAPTIVE_CARD_CONTENT_TYPE
            and isinstance(a.get("content"), dict)
        ]

    @property
    def card(self) -> JSON | None:
        cards = self.cards
        return cards[0] if cards else None


MessagePredicate = Callable[[BotMessage], bool]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Playground:
    """A running Playground process plus HTTP/WebSocket client state."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, workdir: Path) -> None:
        self.process = process
        self.port = port
        self.workdir = workdir
        self.base_url = f"http://127.0.0.1:{port}"
        # What the Playground tells the bot (activity.serviceUrl); the bot posts replies here.
        self.service_url = f"http://localhost:{port}/_connector"
        self.log_file = workdir / LOG_FILE_RELATIVE
        self.stdout_file = workdir / STDOUT_FILE_NAME
        self._session: aiohttp.ClientSession | None = None
        self._messages: list[BotMessage] = []
        self._outgoing: list[JSON] = []
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._ws_connected_at_ms = 0
        self._config: JSON | None = None
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise PlaygroundError("Playground client session not started")
        return self._session

    async def _open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        conv_ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        log_ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tasks.append(asyncio.create_task(self._conversation_ws(conv_ready)))
        self._tasks.append(asyncio.create_task(self._log_ws(log_ready)))
        await asyncio.wait_for(asyncio.gather(conv_ready, log_ready), timeout=15)

    async def stop(self) -> None:
        """Close the clients and terminate the Playground's process group; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
        await _terminate(self.process)

    async def __aenter__(self) -> Playground:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def read_log(self) -> str:
        """The Playground's own log file (``<workdir>/devTools/m365agentsplayground.log``)."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ------------------------------------------------------------------ HTTP

    async def _request(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.base_url + path, **kwargs) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise PlaygroundHTTPError(method, path, resp.status, text)
            return resp.status, text

    async def _request_json(self, method: str, path: str, body: Any = None) -> Any:
        _, text = await self._request(method, path, body)
        return json.loads(text) if text.strip() else None

    async def config(self, refresh: bool = False) -> JSON:
        """``GET /_internal/v1/config``: ``{"config": {...tenant...}, "internalConfig": {...}}``.

        Note: the Playground waits (up to 15 s) until the bot endpoint accepts TCP
        connections before answering.
        """
        if self._config is None or refresh:
            data = await self._request_json("GET", "/_internal/v1/config")
            if not isinstance(data, dict):
                raise PlaygroundError(f"unexpected config response: {data!r}")
            self._config = data
        return self._config

    def _cfg(self) -> JSON:
        if self._config is None:
            raise PlaygroundError("call `await pg.config()` first")
        tenant: JSON = self._config["config"]
        return tenant

    # Convenience accessors (require a prior ``await config()``).
    @property
    def tenant_id(self) -> str:
        return str(self._cfg()["tenantId"])

    @property
    def bot(self) -> JSON:
        bot: JSON = self._cfg()["bot"]
        return bot

    @property
    def current_user(self) -> JSON:
        user: JSON = self._cfg()["currentUser"]
        return user

    @property
    def users(self) -> list[JSON]:
        """All users incl. the current user (first)."""
        return [self.current_user, *self._cfg()["users"]]

    def user(self, user_id: str) -> JSON:
        for u in self.users:
            if u["id"] == user_id:
                return u
        raise KeyError(user_id)

    @property
    def personal_chat_id(self) -> str:
        return str(self._cfg()["personalChat"]["id"])

    @property
    def group_chat_id(self) -> str:
        return str(self._cfg()["groupChats"][0]["id"])

    @property
    def team(self) -> JSON:
        team: JSON = self._cfg()["teams"][0]
        return team

    @property
    def team_id(self) -> str:
        """Team id == conversation id of the General channel."""
        return str(self.team["id"])

    @property
    def channel_ids(self) -> list[str]:
        """General channel (== team id) first, then the extra channel if configured."""
        return [str(c["id"]) for c in self.team["channels"]]

    async def install(
        self, conversation_id: str, direct_line_conversation_id: str | None = None
    ) -> None:
        """``POST /_debug/conversation/{id}/installation``.

        The bot receives ``installationUpdate`` (action "add", only with channel-id
        msteams) and then ``conversationUpdate`` (membersAdded). Returns as soon as
        the Playground accepted the request (the bot is called asynchronously).
        """
        body: JSON = {}
        if direct_line_conversation_id is not None:
            body["directLineConversationId"] = direct_line_conversation_id
        await self._request(
            "POST", f"/_debug/conversation/{quote(conversation_id, safe='')}/installation", body
        )

    async def send_text(
        self,
        conversation_id: str,
        text: str,
        from_id: str | None = None,
        locale: str | None = None,
        *,
        mention_bot: bool = False,
        mentions: list[JSON] | None = None,
        text_format: str = "plain",
    ) -> JSON:
        """Send a user text message.

        * Default path: ``POST /_conversation/v1/conversations/{id}/messages``. The
          Playground ALWAYS sends it as the current user (``from`` only gets
          validated for membership) with locale ``en-US``. Returns
          ``{"messageId", "timestamp"[, "postConversationId"]}``.
        * If ``locale`` is given, or ``from_id`` differs from the current user, a
          Teams-shaped activity is built and sent raw through ``custom_activity``
          (returns ``{"activityId": ..., "custom": True}``; no Playground-side
          message is created, so you cannot ``submit``/``invoke`` against it).

        ``mention_bot=True`` prefixes ``<at>{bot name}</at> `` and adds the mention —
        required in channels and group chats, where the Playground forwards a
        message only if the bot is mentioned.
        """
        await self.config()
        mention_list = list(mentions or [])
        if mention_bot:
            at = f"<at>{self.bot['name']}</at>"
            if at not in text:
                text = f"{at} {text}"
            mention_list.append(
                {"mentioned": {"id": self.bot["id"], "name": self.bot["name"]}, "text": at}
            )
        sender = from_id or self.current_user["id"]
        if locale is None and sender == self.current_user["id"]:
            body: JSON = {
                "type": "text",
                "text": text,
                "textFormat": text_format,
                "from": {"id": sender},
            }
            if mention_list:
                body["mentions"] = [
                    {"mentioned": {"id": m["mentioned"]["id"]}, "text": m["text"]}
                    for m in mention_list
                ]
            data = await self._request_json(
                "POST",
                f"/_conversation/v1/conversations/{quote(conversation_id, safe='')}/messages",
                body,
            )
            return data if isinstance(data, dict) else {}
        activity = self.build_activity(
            conversation_id,
            "message",
            from_id=sender,
            locale=locale,
            text=text,
            textFormat=text_format,
            entities_extra=[
                {
                    "type": "mention",
                    "mentioned": {
                        "id": m["mentioned"]["id"],
                        "name": m["mentioned"].get("name", ""),
                    },
                    "text": m["text"],
                }
                for m in mention_list
            ],
        )
        await self.custom_activity(activity)
        return {"activityId": activity["id"], "custom": True}

    async def submit(
        self,
        conversation_id: str,
        reply_to_id: str,
        value: Mapping[str, Any],
        from_id: str | None = None,
    ) -> None:
        """``POST /_conversation/v1/submit`` — an Adaptive Card ``Action.Submit``.

        The bot receives a ``message`` activity with ``value`` and ``replyToId`` and
        no text. ``reply_to_id`` must be the messageId of a message the bot posted
        in that conversation (else HTTP 400 ActivityNotFoundInConversation);
        ``from_id`` must be a member (personal chat: only the current user).
        """
        await self.config()
        body: JSON = {
            "conversation": {"id": conversation_id},
            "replyToId": reply_to_id,
            "value": dict(value),
            "from": {"id": from_id or self.current_user["id"]},
        }
        await self._request("POST", "/_conversation/v1/submit", body)

    async def invoke_action(
        self,
        conversation_id: str,
        reply_to_id: str,
        action: Mapping[str, Any],
        from_id: str | None = None,
        *,
        trigger: str | None = None,
    ) -> JSON:
        """``POST /_conversation/v1/invoke`` — an Adaptive Card ``Action.Execute``.

        ``action`` is e.g. ``{"type": "Action.Execute", "verb": "x", "data": {...}}``.
        Returns the bot's invoke response body as relayed by the Playground:
        ``{"type": ..., "value": ...}`` (the Playground DROPS ``statusCode``). If
        the bot answers non-2xx the Playground returns HTTP 502 (raised as
        PlaygroundHTTPError with the bot's status in ``innerHttpError``).
        """
        await self.config()
        value: JSON = {"action": dict(action)}
        if trigger is not None:
            value["trigger"] = trigger
        body: JSON = {
            "name": "adaptiveCard/action",
            "value": value,
            "from": {"id": from_id or self.current_user["id"]},
            "conversation": {"id": conversation_id},
            "replyToId": reply_to_id,
        }
        data = await self._request_json("POST", "/_conversation/v1/invoke", body)
        return data if isinstance(data, dict) else {}

    async def custom_activity(self, activity: Mapping[str, Any]) -> None:
        """``POST /_internal/v1/customActivities`` — forwarded to the bot verbatim.

        Answers 200 before calling the bot; delivery errors only reach the log.
        Use ``build_activity`` to get a correctly-shaped Teams activity.
        """
        await self._request("POST", "/_internal/v1/customActivities", dict(activity))

    async def custom_activity_template(
        self, conversation_id: str, template_type: str | None = None
    ) -> JSON:
        """``GET /_internal/v1/customActivities/template`` (types: install, uninstall,
        userAdded, userRemoved, botAdded, botRemoved, channelCreated, channelRenamed,
        channelDeleted, teamRenamed, teamDeleted, ...)."""
        conversation = quote(conversation_id, safe="")
        path = f"/_internal/v1/customActivities/template?conversationId={conversation}"
        if template_type:
            path += f"&type={quote(template_type, safe='')}"
        data = await self._request_json("GET", path)
        return data if isinstance(data, dict) else {}

    def _conversation_kind(self, conversation_id: str) -> str:
        root = conversation_id.split(";", 1)[0]
        if root == self.personal_chat_id:
            return "personal"
        if any(root == g["id"] for g in self._cfg()["groupChats"]):
            return "groupChat"
        if root in self.channel_ids:
            return "channel"
        return "personal"  # e.g. "<uuid>@test.user" chats created via POST /v3/conversations

    def build_activity(
        self,
        conversation_id: str,
        activity_type: str = "message",
        *,
        from_id: str | None = None,
        locale: str | None = None,
        entities_extra: list[JSON] | None = None,
        **fields: Any,
    ) -> JSON:
        """A Teams-shaped activity like the ones the Playground generates itself
        (serviceUrl, channelId msteams, from incl. name/aadObjectId, recipient=bot,
        conversation incl. conversationType/tenantId, channelData.tenant/team/channel,
        clientInfo entity). Extra ``fields`` are merged at top level (e.g. text,
        value, name, replyToId). Requires a prior ``await config()``."""
        user = self.user(from_id or self.current_user["id"])
        kind = self._conversation_kind(conversation_id)
        loc = locale or "en-US"
        conversation: JSON = {
            "conversationType": kind,
            "tenantId": self.tenant_id,
            "id": conversation_id,
        }
        channel_data: JSON = {"tenant": {"id": self.tenant_id}}
        if kind != "personal":
            conversation["isGroup"] = True
        if kind == "channel":
            channel_id = conversation_id.split(";", 1)[0]
            channel_data.update(
                {
                    "teamsChannelId": channel_id,
                    "teamsTeamId": self.team_id,
                    "team": {"id": self.team_id},
                    "channel": {"id": channel_id},
                }
            )
        now = _now_iso()
        activity: JSON = {
            "type": activity_type,
            "id": str(uuid.uuid4()),
            "timestamp": now,
            "localTimestamp": now,
            "localTimezone": "UTC",
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "from": {"id": user["id"], "name": user["name"], "aadObjectId": user["aadObjectId"]},
            "conversation": conversation,
            "recipient": {"id": self.bot["id"], "name": self.bot["name"]},
            "locale": loc,
            "entities": [
                *(entities_extra or []),
                {
                    "type": "clientInfo",
                    "locale": loc,
                    "country": loc.split("-")[-1],
                    "platform": "Web",
                    "timezone": "UTC",
                },
            ],
            "channelData": channel_data,
        }
        activity.update(fields)
        return activity

    async def connector_get(self, path: str) -> Any:
        """GET on the mocked Bot Connector, e.g. ``/v3/conversations/{id}/pagedmembers``."""
        return await self._request_json("GET", "/_connector" + path)

    # ------------------------------------------------------------------ WebSockets

    async def _conversation_ws(self, ready: asyncio.Future[None]) -> None:
        url = self.base_url + "/_ws_conversation/v1/conversations/stream"
        async with self.session.ws_connect(url, heartbeat=None, autoping=True) as ws:
            # Frames produced while no client listened get flushed to the first client:
            # drop anything older than our connection.
            self._ws_connected_at_ms = int(time.time() * 1000)
            ready.set_result(None)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(frame, dict) or frame.get("action") not in (
                    "createMessage",
                    "updateMessage",
                ):
                    continue
                message = frame.get("message") or {}
                ts = int(message.get("timestamp") or 0)
                if ts < self._ws_connected_at_ms:
                    continue
                bm = BotMessage(
                    action=str(frame["action"]),
                    conversation_id=str(frame.get("actionConversationId", "")),
                    message_id=str(message.get("messageId", "")),
                    timestamp=ts,
                    text=message.get("text"),
                    attachments=list(message.get("attachments") or []),
                    raw=frame,
                )
                async with self._changed:
                    self._messages.append(bm)
                    self._changed.notify_all()

    async def _log_ws(self, ready: asyncio.Future[None]) -> None:
        """``/_ws/log/stream``: the Playground's inspector log. Entries with
        ``log.type == "bot"`` carry every activity the bot POSTed to the connector
        (``log.request.body``) — including chats the current user is not in, which
        never appear on the conversation stream."""
        url = self.base_url + "/_ws/log/stream"
        async with self.session.ws_connect(url, heartbeat=None, autoping=True) as ws:
            connected_at = int(time.time() * 1000)
            ready.set_result(None)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    continue
                log = frame.get("log") if isinstance(frame, dict) else None
                if not isinstance(log, dict) or int(log.get("timestamp") or 0) < connected_at:
                    continue
                if log.get("type") != "bot":
                    continue
                async with self._changed:
                    self._outgoing.append(log)
                    self._changed.notify_all()

    def messages(self) -> list[BotMessage]:
        """Snapshot of all createMessage/updateMessage frames received so far."""
        return list(self._messages)

    def mark(self) -> int:
        """Index to pass as ``start=`` so only later frames are considered."""
        return len(self._messages)

    def outgoing(self) -> list[JSON]:
        """Inspector-log entries of bot->connector calls (see ``_log_ws``)."""
        return list(self._outgoing)

    def outgoing_mark(self) -> int:
        return len(self._outgoing)

    async def wait_for_message(
        self, predicate: MessagePredicate | None = None, timeout: float = 10.0, *, start: int = 0
    ) -> BotMessage:
        """First frame at index >= ``start`` matching ``predicate`` (waits for it)."""
        pred: MessagePredicate = predicate or (lambda _m: True)
        deadline = time.monotonic() + timeout
        idx = start
        async with self._changed:
            while True:
                while idx < len(self._messages):
                    m = self._messages[idx]
                    idx += 1
                    if pred(m):
                        return m
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching Playground message within {timeout}s; got: "
                        + json.dumps([m.raw for m in self._messages[start:]])[:4000]
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for_outgoing(
        self, predicate: Callable[[JSON], bool], timeout: float = 10.0, *, start: int = 0
    ) -> JSON:
        """Like ``wait_for_message`` over ``outgoing()`` entries (match on
        ``entry["request"]["body"]`` — the activity the bot sent)."""
        deadline = time.monotonic() + timeout
        idx = start
        async with self._changed:
            while True:
                while idx < len(self._outgoing):
                    e = self._outgoing[idx]
                    idx += 1
                    if predicate(e):
                        return e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching outgoing bot activity within {timeout}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)


async def _terminate(process: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    if process.returncode is not None:
        return
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        pgid = None
    # The process was started with start_new_session=True, so its pgid == its pid;
    # never signal any group but that one.
    if pgid is not None and pgid == process.pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    else:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            if pgid is not None and pgid == process.pid:
                os.killpg(pgid, signal.SIGKILL)
            else:
                process.kill()
        await process.wait()


async def start_playground(
    app_endpoint: str,
    workdir: Path,
    port: int | None = None,
    *,
    config_yaml: str | None = None,
    conversation_id: str | None = None,
    startup_timeout: float = 30.0,
    extra_env: Mapping[str, str] | None = None,
) -> Playground:
    """Start ``agentsplayground`` for ``app_endpoint`` with ``cwd=workdir``.

    * The Playground reads ``<cwd>/.m365agentsplayground.yml`` (mock tenant) and
      writes ``<cwd>/devTools/m365agentsplayground.log``. Pass ``config_yaml`` to
      write that file into ``workdir`` (exactly 5 users, 1 team, <= 1 extra channel).
      Without it the built-in tenant is used (personal/group chat ids are random
      UUIDs unless ``conversation_id`` fixes the personal chat id).
    * ``port=None`` picks a free port; if the port is taken the Playground silently
      uses another one — the real port is parsed from ``Listening on N``.
    * Also connects the conversation and log WebSockets before returning, so no
      frame is missed.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if not BIN.exists():
        raise PlaygroundError(f"{BIN} missing: run `npm install` in {NPM_DIR}")
    if config_yaml is not None:
        (workdir / CONFIG_FILE_NAME).write_text(config_yaml)
    requested_port = port or _free_port()
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(
        {
            "TEAMSAPPTESTER_BROWSER": "none",
            "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",
        }
    )
    if extra_env:
        env.update(extra_env)
    args = [
        str(BIN),  # absolute: cwd is workdir, not the npm dir
        "--port",
        str(requested_port),
        "--app-endpoint",
        app_endpoint,
        "--channel-id",
        "msteams",
        "--disable-telemetry",
    ]
    if conversation_id is not None:
        args += ["--conversation-id", conversation_id]
    stdout_path = workdir / STDOUT_FILE_NAME
    with open(stdout_path, "wb") as out:
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=str(workdir),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        actual_port = await _wait_listening(process, stdout_path, startup_timeout)
        pg = Playground(process, actual_port, workdir)
        await _wait_ready(pg, startup_timeout)
        await pg._open()
        return pg
    except BaseException:
        await _terminate(process)
        raise


def _startup_failure(
    process: asyncio.subprocess.Process, stdout_path: Path, workdir: Path, why: str
) -> PlaygroundError:
    out = stdout_path.read_text(errors="replace") if stdout_path.exists() else ""
    log_path = workdir / LOG_FILE_RELATIVE
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    errors = "\n".join(line for line in log.splitlines() if line.startswith("error "))
    return PlaygroundError(
        f"Playground {why} (exit code {process.returncode}).\n"
        f"stdout:\n{out[-3000:]}\nlog errors:\n{errors[-3000:]}"
    )


async def _wait_listening(
    process: asyncio.subprocess.Process, stdout_path: Path, timeout: float
) -> int:
    deadline = time.monotonic() + timeout
    while True:
        text = stdout_path.read_text(errors="replace") if stdout_path.exists() else ""
        for line in text.splitlines():
            if line.startswith("Listening on "):
                return int(line.split()[2])
        if process.returncode is not None:
            raise _startup_failure(
                process, stdout_path, stdout_path.parent, "exited before listening"
            )
        if time.monotonic() > deadline:
            raise _startup_failure(
                process, stdout_path, stdout_path.parent, f"not listening after {timeout}s"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.1)


async def _wait_ready(pg: Playground, timeout: float) -> None:
    """``Listening on`` is printed BEFORE the backend (and the yml config) is
    loaded; a bad config makes it exit(1) right after. Poll ``/_debug/ping``."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
        while True:
            if pg.process.returncode is not None:
                raise _startup_failure(
                    pg.process, pg.stdout_file, pg.workdir, "exited during startup"
                )
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with s.get(pg.base_url + "/_debug/ping") as resp:
                    if resp.status == 200:
                        await asyncio.sleep(0.05)
                        if pg.process.returncode is None:
                            return
            if time.monotonic() > deadline:
                raise _startup_failure(
                    pg.process, pg.stdout_file, pg.workdir, f"not ready after {timeout}s"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pg.process.wait(), 0.1)
