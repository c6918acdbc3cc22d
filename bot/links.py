"""Signed, expiring download links (a meeting's .ics, a report's workbook, a case export).

Teams opens a link in the browser, where the bot cannot see who is asking; so a link is a
bearer token that carries what it gives (a purpose and a subject) and until when, signed
with a key every instance shares through the database. A forged, altered or expired link
is refused exactly like one that never existed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from storage.documents import ETagConflict, SqlAlchemyDocumentStore

SIGNING_KEY = "secret:links"
_MAX_TOKEN = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Makes and reads links `<base>/links/<purpose>/<token>[/<filename>]`."""

    def __init__(self, secret: bytes, base_url: str) -> None:
        if len(secret) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self._secret = secret
        self._base = base_url.rstrip("/")

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}\n{body}".encode(), hashlib.sha256).digest()
        return _b64(digest[:24])

    def token(self, purpose: str, subject: str, expires: datetime) -> str:
        if expires.tzinfo is None:
            raise ValueError("expires must be timezone-aware")
        body = _b64(json.dumps([subject, int(expires.timestamp())], separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def url(self, purpose: str, subject: str, expires: datetime, filename: str = "") -> str:
        """The address of a download; `filename` only names the file in the browser."""
        suffix = f"/{filename}" if filename else ""
        return f"{self._base}/links/{purpose}/{self.token(purpose, subject, expires)}{suffix}"

    def read(self, purpose: str, token: str, now: datetime) -> str | None:
        """The subject of a valid, unexpired token for `purpose`; None for anything else."""
        if len(token) > _MAX_TOKEN or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            subject, expires = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if not isinstance(subject, str) or not isinstance(expires, int):
            return None
        if now >= datetime.fromtimestamp(expires, UTC):
            return None
        return subject


async def signing_key(
    store: SqlAlchemyDocumentStore, now: datetime, key: str = SIGNING_KEY
) -> bytes:
    """A random key kept in the database, created by whichever instance starts first."""
    for _attempt in range(3):
        found = await store.read([key])
        if key in found:
            return bytes.fromhex(json.loads(found[key][0])["key"])
        try:
            await store.write({key: (json.dumps({"key": secrets.token_hex(32)}), None)}, now)
        except ETagConflict:
            continue  # another instance created it first: read theirs
    raise RuntimeError(f"could not establish the signing key {key}")


Download = Callable[[str, web.Request], Awaitable[web.StreamResponse]]


def add_download(
    app: web.Application,
    signer: Callable[[], LinkSigner],
    now: Callable[[], datetime],
    purpose: str,
    handler: Download,
) -> None:
    """Serve `GET /links/<purpose>/<token>[/<filename>]`: the handler gets the verified
    subject; anything else is a plain 404 (no hint whether a link ever existed)."""

    async def route(request: web.Request) -> web.StreamResponse:
        subject = signer().read(purpose, request.match_info["token"], now())
        if subject is None:
            raise web.HTTPNotFound()
        return await handler(subject, request)

    app.router.add_get(f"/links/{purpose}/{{token}}", route)
    app.router.add_get(f"/links/{purpose}/{{token}}/{{filename}}", route)
