"""A loopback OpenID metadata / JWKS endpoint, and tokens signed like the Bot Connector's.

botframework's JwtTokenExtractor fetches the metadata and the keys with synchronous
`requests.get` from inside the event loop, so the stub must answer from another thread:
it is a ThreadingHTTPServer on 127.0.0.1 in a daemon thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
DEFAULT_KID = "stub-key-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(
    key: rsa.RSAPrivateKey, kid: str, endorsements: list[str] | None = None
) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(
        kid=kid,
        use="sig",
        alg="RS256",
        endorsements=["msteams"] if endorsements is None else endorsements,
    )
    return jwk


def sign(
    claims: Mapping[str, Any],
    *,
    key: rsa.RSAPrivateKey,
    kid: str = DEFAULT_KID,
    algorithm: str = "RS256",
) -> str:
    return jwt.encode(dict(claims), key, algorithm=algorithm, headers={"kid": kid})


def channel_claims(app_id: str, service_url: str, **overrides: Any) -> dict[str, Any]:
    """Claims of a Bot Connector -> bot token: valid now, for `app_id` and `service_url`."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": BOT_FRAMEWORK_ISSUER,
        "aud": app_id,
        "serviceurl": service_url,
        "nbf": now - 60,
        "iat": now - 60,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return claims


@dataclass
class JwksStub:
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = DEFAULT_KID
    endorsements: list[str] = field(default_factory=lambda: ["msteams"])
    requests: list[str] = field(default_factory=list)
    base_url: str = ""
    # Seconds to wait before answering: a metadata host that hangs.
    delay: float = 0.0

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def sign(self, claims: Mapping[str, Any], **kwargs: Any) -> str:
        kwargs.setdefault("key", self.key)
        kwargs.setdefault("kid", self.kid)
        return sign(claims, **kwargs)

    def _documents(self) -> dict[str, dict[str, Any]]:
        return {
            "/.well-known/openid-configuration": {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": f"{self.base_url}/authorize",
                "jwks_uri": f"{self.base_url}/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            },
            "/keys": {"keys": [public_jwk(self.key, self.kid, self.endorsements)]},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(self.path)
                if stub.delay:
                    time.sleep(stub.delay)
                document = stub._documents().get(self.path.split("?", 1)[0])
                body = json.dumps(document or {"error": "not found"}).encode()
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[JwksStub]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="jwks-stub",
            daemon=True,
        )
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@contextmanager
def jwks_stub(**kwargs: Any) -> Iterator[JwksStub]:
    with JwksStub(**kwargs).running() as stub:
        yield stub
