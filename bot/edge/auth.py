"""Who may call the bot, and the bot's own token for calling back.

Incoming: a Bot Connector request carries a JWT that must be signed by one of the keys
Microsoft publishes (OpenID metadata -> JWKS), endorsed for the activity's channel, for
this bot (`aud`), from the Bot Framework (`iss`), valid now, and naming the activity's
serviceUrl. botbuilder's validator does the same checks but fetches the metadata with a
synchronous `requests.get` on the event loop, without a time limit and once per unknown
key id: a hanging metadata host froze every turn and `/healthz`, and a flood of forged
tokens caused a flood of fetches. So the checks are made here with PyJWT against keys kept
by `ChannelKeys`: fetched with aiohttp under a short timeout, one fetch at a time for the
whole process, at start and then every few hours, on an unknown key id at most once per
few minutes (in the background), and a failed fetch remembered for a while. A request
waits for the network only while the process has never had keys at all.

The endpoints, issuer and claim names are botbuilder's (`AuthenticationConstants`), and the
outgoing token comes from botbuilder's credential factory (MSAL; SingleTenant,
MultiTenant or a user-assigned managed identity), run off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from botbuilder.integration.aiohttp import ConfigurationServiceClientCredentialFactory
from botframework.connector.auth import AuthenticationConstants, ChannelValidation
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str | None]]

KEYS_FRESH_FOR = 6 * 3600.0
UNKNOWN_KID_EVERY = 300.0
FAILURE_MEMORY = 30.0
FETCH_TIMEOUT = 3.0
MAX_TOKEN = 8192
# Clock skew between Microsoft's token service and this host (botbuilder allows the same).
LEEWAY = 300


class Unauthorized(Exception):
    """The request's token is missing or not valid; the reason is for the log only."""


@dataclass(frozen=True)
class ChannelKey:
    key: Any
    endorsements: frozenset[str]


def metadata_url(configured: str) -> str:
    """Where the Bot Connector's signing keys are announced: the setting (tests), or
    botbuilder's public-cloud endpoint."""
    return (
        configured
        or ChannelValidation.open_id_metadata_endpoint
        or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    )


class ChannelKeys:
    """The Bot Connector's signing keys, fetched without ever blocking a turn for long."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        *,
        fetch_timeout: float = FETCH_TIMEOUT,
        fresh_for: float = KEYS_FRESH_FOR,
        unknown_kid_every: float = UNKNOWN_KID_EVERY,
        failure_memory: float = FAILURE_MEMORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=fetch_timeout, connect=fetch_timeout)
        self._fresh_for = fresh_for
        self._unknown_every = unknown_kid_every
        self._failure_memory = failure_memory
        self._clock = clock
        self._keys: dict[str, ChannelKey] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._failed_at = float("-inf")
        self._fetching: asyncio.Task[None] | None = None
        self.fetches = 0  # how many times the metadata was asked for (tests, metrics)

    async def key(self, kid: str) -> ChannelKey | None:
        now = self._clock()
        found = self._keys.get(kid)
        if found is not None:
            if now - self._fetched_at > self._fresh_for:
                self._refresh(now)  # stale keys still serve while new ones are fetched
            return found
        if self._keys:
            # A forged key id, or one Microsoft has published since the last fetch (it
            # publishes new keys well before signing with them): refused now, and the keys
            # are read again in the background - at most once per few minutes.
            if now - self._attempted_at >= self._unknown_every:
                self._refresh(now)
            return None
        if now - self._failed_at < self._failure_memory:
            return None
        # Never had keys (the process has just started): wait for them, bounded by the
        # fetch's own timeout and shared by every request that came meanwhile.
        await asyncio.shield(self._refresh(now))
        return self._keys.get(kid)

    async def prefetch(self) -> None:
        """Fetch at start so the first real request finds the keys; failure is logged."""
        await asyncio.shield(self._refresh(self._clock()))

    def _refresh(self, now: float) -> asyncio.Task[None]:
        if self._fetching is None:
            self._attempted_at = now
            self._fetching = asyncio.create_task(self._fetch())
        return self._fetching

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            metadata = await self._get_json(self._url)
            jwks_uri = metadata.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise ValueError("no jwks_uri in the metadata")
            document = await self._get_json(jwks_uri)
            keys = _parse_keys(document)
            if not keys:
                raise ValueError("no usable keys in the JWKS")
        except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as error:
            self._failed_at = self._clock()
            log.warning("channel signing keys not fetched: %s", type(error).__name__)
        else:
            self._keys = keys
            self._fetched_at = self._clock()
        finally:
            self._fetching = None

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with self._http.get(url, timeout=self._timeout) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            data = await response.json(content_type=None)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data


def _parse_keys(document: Mapping[str, Any]) -> dict[str, ChannelKey]:
    keys: dict[str, ChannelKey] = {}
    for jwk in document.get("keys") or []:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") != "RSA":
            continue
        try:
            key = RSAAlgorithm.from_jwk(jwk)
        except (ValueError, TypeError, KeyError, jwt.InvalidKeyError):
            continue
        endorsements = jwk.get("endorsements") or []
        keys[jwk["kid"]] = ChannelKey(key, frozenset(e for e in endorsements if isinstance(e, str)))
    return keys


class ChannelAuthentication:
    """Checks a request's `Authorization` header against the activity it carries."""

    def __init__(self, keys: ChannelKeys, app_id: str) -> None:
        self._keys = keys
        self._app_id = app_id

    async def check(self, header: str | None, channel_id: str, service_url: str) -> None:
        """Return when the token is valid for this activity; raise Unauthorized if not."""
        if not header or len(header) > MAX_TOKEN:
            raise Unauthorized("no token")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or " " in token:
            raise Unauthorized("not a bearer token")
        try:
            head = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthorized("malformed token") from None
        algorithm, kid = head.get("alg"), head.get("kid")
        if not isinstance(algorithm, str) or (
            algorithm not in AuthenticationConstants.ALLOWED_SIGNING_ALGORITHMS
        ):
            raise Unauthorized("algorithm not allowed")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("no key id")
        found = await self._keys.key(kid)
        if found is None:
            raise Unauthorized("unknown key id")
        if channel_id not in found.endorsements:
            raise Unauthorized("key not endorsed for the channel")
        try:
            claims = jwt.decode(
                token,
                found.key,
                algorithms=[algorithm],
                audience=self._app_id,
                issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:
            raise Unauthorized(type(error).__name__) from None
        if claims.get(AuthenticationConstants.SERVICE_URL_CLAIM) != service_url:
            raise Unauthorized("serviceurl claim does not match")


class _CredentialConfig:
    """The attribute names botbuilder's credential factory reads."""

    def __init__(self, app_id: str, password: str, app_type: str, tenant_id: str) -> None:
        self.APP_ID = app_id
        self.APP_PASSWORD = password
        self.APP_TYPE = app_type
        self.APP_TENANTID = tenant_id


def token_provider(app_id: str, password: str, app_type: str, tenant_id: str) -> TokenProvider:
    """The bearer token the bot sends to the Bot Connector (None without credentials)."""
    if not app_id:

        async def no_token() -> str | None:
            return None

        return no_token
    factory = ConfigurationServiceClientCredentialFactory(
        _CredentialConfig(app_id, password, app_type, tenant_id)
    )
    login = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX + (
        tenant_id
        if app_type == "SingleTenant"
        else AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT
    )
    credentials: list[Any] = []
    lock = asyncio.Lock()

    async def token() -> str | None:
        if not credentials:
            async with lock:
                if not credentials:
                    credentials.append(
                        await factory.create_credentials(
                            app_id,
                            AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
                            login,
                            True,
                        )
                    )
        # MSAL is synchronous (and caches the token): keep it off the event loop.
        value = await asyncio.to_thread(credentials[0].get_access_token)
        return str(value) if value else None

    return token
