"""A small Bot Connector REST client on one shared aiohttp session: replies within a turn,
proactive sends from the outbox, rosters and channel lists.

The stock botbuilder connector is built anew per call, sends through synchronous
`requests` in a thread pool and hides the HTTP status and Retry-After that the retry rules
need; this one keeps connections alive, bounds connect and read times, and tells exactly
what went wrong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from consultations.delivery import DeliveryFailure, FailureKind
from dialogs.cards.base import json_bytes

log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str | None]]
_RETRYABLE = {408, 412, 500, 502, 503, 504}
# An unreachable serviceUrl must not hold a turn: connecting gets a couple of seconds.
CONNECT_TIMEOUT = 2.0
TOKEN_TIMEOUT = 10.0


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        return None


class BotConnector:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        token: TokenProvider,
        *,
        timeout: float = 15.0,
    ) -> None:
        self._session = session
        self._token = token
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=min(CONNECT_TIMEOUT, timeout)
        )

    async def _request(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        limits: aiohttp.ClientTimeout | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            token = await asyncio.wait_for(self._token(), TOKEN_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - MSAL raises many kinds; all mean "later"
            raise DeliveryFailure(FailureKind.RETRY, f"token: {type(error).__name__}") from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._session.request(
                method,
                url,
                # UTF-8 rather than \u escapes: a Finnish card is a third smaller on the wire,
                # which keeps the largest cards well under Teams' 28 KB.
                data=None if body is None else json_bytes(body),
                headers=headers,
                timeout=limits or self._timeout,
            ) as response:
                if response.status < 300:
                    try:
                        data = await response.json(content_type=None)
                    except ValueError:
                        data = None
                    return data if isinstance(data, dict) else {}
                status = response.status
                retry_after = _retry_after(response.headers)
                reason = f"HTTP {status}"
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError):
            # No retry makes a malformed URL reachable.
            raise DeliveryFailure(FailureKind.PERMANENT, "invalid service URL") from None
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise DeliveryFailure(
                FailureKind.RETRY, f"connection: {type(error).__name__}"
            ) from None
        if status == 429:
            raise DeliveryFailure(
                FailureKind.RETRY, reason, retry_after=retry_after or 1.0, status=status
            )
        if status in _RETRYABLE or status == 401:
            raise DeliveryFailure(FailureKind.RETRY, reason, retry_after=retry_after, status=status)
        if status == 403:
            raise DeliveryFailure(FailureKind.UNREACHABLE, reason, status=status)
        raise DeliveryFailure(FailureKind.PERMANENT, reason, status=status)

    @staticmethod
    def _base(service_url: str) -> str:
        return service_url.rstrip("/")

    async def create_personal_conversation(
        self, service_url: str, *, bot_id: str, user_id: str, tenant_id: str
    ) -> str:
        body = {
            "isGroup": False,
            "bot": {"id": bot_id},
            "members": [{"id": user_id}],
            "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}},
        }
        data = await self._request("POST", f"{self._base(service_url)}/v3/conversations", body)
        conversation_id = data.get("id")
        if not isinstance(conversation_id, str) or not conversation_id:
            raise DeliveryFailure(FailureKind.RETRY, "create conversation: no id returned")
        return conversation_id

    async def send(
        self,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        *,
        reply_to: str | None = None,
        within: float | None = None,
    ) -> str | None:
        """Post an activity (as a reply to `reply_to` when given); return its id."""
        conversation = quote(conversation_id, safe="")
        url = f"{self._base(service_url)}/v3/conversations/{conversation}/activities"
        if reply_to:
            url += f"/{quote(reply_to, safe='')}"
        limits = None
        if within is not None:
            limits = aiohttp.ClientTimeout(total=within, sock_connect=min(CONNECT_TIMEOUT, within))
        data = await self._request("POST", url, activity, limits)
        activity_id = data.get("id")
        return activity_id if isinstance(activity_id, str) else None

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> None:
        url = (
            f"{self._base(service_url)}/v3/conversations/{quote(conversation_id, safe='')}"
            f"/activities/{quote(activity_id, safe='')}"
        )
        await self._request("PUT", url, {**activity, "id": activity_id})

    async def paged_members(
        self, service_url: str, conversation_id: str, continuation: str | None, page_size: int = 500
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a team's (or chat's) roster and the token for the next page."""
        url = (
            f"{self._base(service_url)}/v3/conversations/{quote(conversation_id, safe='')}"
            f"/pagedmembers?pageSize={page_size}"
        )
        if continuation:
            url += f"&continuationToken={quote(continuation, safe='')}"
        data = await self._request("GET", url)
        members = [m for m in data.get("members") or [] if isinstance(m, dict)]
        token = data.get("continuationToken")
        return members, token if isinstance(token, str) and token else None

    async def team_channels(self, service_url: str, team_id: str) -> list[tuple[str, str]]:
        url = f"{self._base(service_url)}/v3/teams/{quote(team_id, safe='')}/conversations"
        data = await self._request("GET", url)
        return [
            (c["id"], c.get("name") or "")
            for c in data.get("conversations") or []
            if isinstance(c, dict) and isinstance(c.get("id"), str)
        ]
