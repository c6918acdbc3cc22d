"""Reuse the SDK's per-turn clients instead of building them on every turn.

botbuilder 4.17's CloudAdapter builds a new ConnectorClient and a new UserTokenClient for
every incoming activity, invokes included; each construction builds an msrest retry policy
(half a million list comparisons) and costs milliseconds of CPU. Measured in
bench/vote_turn.py, that was over a third of a vote turn. They hold no per-turn state, so
one per (service URL, audience) - and one token client per bot identity - serves all turns.
"""

from __future__ import annotations

from typing import Any

from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
)

_MAX_CACHED = 64  # service URLs are a handful per deployment; bound it anyway


class CachingConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    def __init__(self, inner: ConnectorFactory, cache: dict[tuple[str, str], Any]) -> None:
        self._inner = inner
        self._cache = cache

    async def create(self, service_url: str, audience: str) -> Any:
        key = (service_url, audience or "")
        client = self._cache.get(key)
        if client is None:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            client = self._cache[key] = await self._inner.create(service_url, audience)
        return client


class CachingAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Delegates everything to the SDK's authentication; caches the clients it creates."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._connectors: dict[tuple[str, str], Any] = {}
        self._token_clients: dict[str, Any] = {}

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        result: AuthenticateRequestResult = await self._inner.authenticate_request(
            activity, auth_header
        )
        if result.connector_factory is not None:
            result.connector_factory = CachingConnectorFactory(
                result.connector_factory, self._connectors
            )
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> Any:
        return CachingConnectorFactory(
            self._inner.create_connector_factory(claims_identity), self._connectors
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        # Tokens of one bot identity differ in times and ids; the app id (the audience) is
        # what the client is built from.
        audience = (claims_identity.claims or {}).get("aud", "") if claims_identity else ""
        key = str(audience)
        client = self._token_clients.get(key)
        if client is None:
            client = self._token_clients[key] = await self._inner.create_user_token_client(
                claims_identity
            )
        return client

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> Any:
        return await self._inner.authenticate_channel_request(auth_header)
