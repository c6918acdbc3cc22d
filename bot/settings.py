"""Settings read once from the environment, validated before anything starts."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///tyokykytiimi.db"
_APP_TYPES = ("SingleTenant", "MultiTenant", "UserAssignedMSI")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message is one line an operator can act on."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 3978
    database_url: str = DEFAULT_DATABASE_URL
    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: str = "SingleTenant"
    app_tenant_id: str = ""
    admins: frozenset[str] = frozenset()
    dispatch_interval_seconds: float = 2.0
    # Teams' documented limits; an operator may lower them, a test may raise them.
    per_conversation_per_second: float = 7.0
    per_conversation_per_30s: int = 60
    per_tenant_per_second: float = 50.0
    max_delivery_attempts: int = 8
    run_scheduler: bool = True
    # Where Teams users reach this bot over HTTPS (for .ics links); defaults to HOST:PORT.
    public_url: str = ""
    # Where the bot's own OpenID metadata comes from; only tests point it elsewhere.
    openid_metadata_url: str = ""
    # Prometheus metrics on a port of their own; None: not served. 0 (tests only) takes a
    # free port.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_token: str = field(default="", repr=False)
    log_format: str = "text"
    log_level: str = "INFO"

    @property
    def authenticated(self) -> bool:
        return bool(self.app_id)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables using the Azure names."""

        def get(name: str, default: str = "") -> str:
            return environ.get(name, default).strip()

        port_text = get("PORT", "3978")
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"PORT must be a number, got {port_text!r}") from None
        if not 0 < port < 65536:
            raise SettingsError(f"PORT must be between 1 and 65535, got {port}")

        database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
        if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise SettingsError(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )

        app_id = get("MicrosoftAppId")
        password = get("MicrosoftAppPassword")
        app_type = get("MicrosoftAppType") or "SingleTenant"
        tenant = get("MicrosoftAppTenantId")
        if app_type not in _APP_TYPES:
            raise SettingsError(f"MicrosoftAppType must be one of {', '.join(_APP_TYPES)}")
        if app_id and not _GUID.match(app_id):
            raise SettingsError("MicrosoftAppId must be the bot's Azure app id (a GUID)")
        if app_id and app_type != "UserAssignedMSI" and not password:
            raise SettingsError("MicrosoftAppPassword is required when MicrosoftAppId is set")
        if password and not app_id:
            raise SettingsError("MicrosoftAppPassword is set but MicrosoftAppId is not")
        if app_id and app_type == "SingleTenant" and not _GUID.match(tenant):
            raise SettingsError(
                "MicrosoftAppTenantId (a GUID) is required when MicrosoftAppType is SingleTenant"
            )

        public_url = _public_url(get("PUBLIC_URL"))
        if app_id and not public_url.startswith("https://"):
            raise SettingsError(
                "PUBLIC_URL (https://…) is required when MicrosoftAppId is set: the address "
                "Teams users reach the bot at, for the links in its cards"
            )

        admins = frozenset(a.strip().lower() for a in get("BOT_ADMINS").split(",") if a.strip())
        bad = sorted(a for a in admins if not _GUID.match(a))
        if bad:
            raise SettingsError(f"BOT_ADMINS must be AAD object ids (GUIDs); not one: {bad[0]}")

        def number(name: str, default: float, minimum: float) -> float:
            text = get(name)
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {text!r}") from None
            if value < minimum:
                raise SettingsError(f"{name} must be at least {minimum}")
            return value

        return cls(
            host=get("HOST") or "127.0.0.1",
            port=port,
            database_url=database_url,
            app_id=app_id,
            app_password=password,
            app_type=app_type,
            app_tenant_id=tenant,
            admins=admins,
            dispatch_interval_seconds=number("DISPATCH_INTERVAL_SECONDS", 2.0, 0.05),
            per_conversation_per_second=number("RATE_PER_CONVERSATION_PER_SECOND", 7.0, 0.1),
            per_conversation_per_30s=int(number("RATE_PER_CONVERSATION_PER_30S", 60, 1)),
            per_tenant_per_second=number("RATE_PER_TENANT_PER_SECOND", 50.0, 0.1),
            max_delivery_attempts=int(number("MAX_DELIVERY_ATTEMPTS", 8, 1)),
            public_url=public_url,
            **_observability(get, port),
        )

    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def check_listen_address(self) -> None:
        """Refuse to serve unauthenticated traffic anywhere but loopback."""
        if self.authenticated:
            return
        if not is_loopback(self.host):
            raise SettingsError(
                f"refusing to listen on {self.host}: without MicrosoftAppId and "
                "MicrosoftAppPassword the bot accepts unauthenticated requests, so it only "
                "listens on loopback (127.0.0.1)"
            )

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_LOG_FORMATS = ("text", "json")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MIN_METRICS_TOKEN = 24


def _observability(get: Callable[..., str], port: int) -> dict[str, Any]:
    """METRICS_* and LOG_*: what an operator watches the bot with."""
    metrics_port: int | None = None
    text = get("METRICS_PORT")
    if text:
        try:
            metrics_port = int(text)
        except ValueError:
            raise SettingsError(f"METRICS_PORT must be a number, got {text!r}") from None
        if not 0 < metrics_port < 65536:
            raise SettingsError(f"METRICS_PORT must be between 1 and 65535, got {metrics_port}")
        if metrics_port == port:
            raise SettingsError("METRICS_PORT must differ from PORT")
    metrics_host = get("METRICS_HOST") or "127.0.0.1"
    token = get("METRICS_TOKEN")
    if token and len(token) < MIN_METRICS_TOKEN:
        raise SettingsError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters")
    if metrics_port is not None and not is_loopback(metrics_host) and not token:
        # Metrics name no person, but they tell how busy a care team is; nobody off this
        # machine reads them without the token.
        raise SettingsError(
            f"METRICS_HOST={metrics_host} serves metrics beyond loopback: set METRICS_TOKEN "
            "(the bearer token the scraper sends) or keep METRICS_HOST on 127.0.0.1"
        )
    log_format = (get("LOG_FORMAT") or "text").lower()
    if log_format not in _LOG_FORMATS:
        raise SettingsError(f"LOG_FORMAT must be one of {', '.join(_LOG_FORMATS)}")
    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
    return {
        "metrics_port": metrics_port,
        "metrics_host": metrics_host,
        "metrics_token": token,
        "log_format": log_format,
        "log_level": log_level,
    }


def _public_url(value: str) -> str:
    if value and not value.startswith(("https://", "http://")):
        raise SettingsError("PUBLIC_URL must start with https:// (or http:// for testing)")
    return value.rstrip("/")


# Teams shows these on the app's details page; set them before publishing to the
# organisation's catalog. Reserved-for-documentation addresses until then (RFC 2606).
UNSET_LISTING_URL = "https://example.invalid/tyokykytiimi"


@dataclass(frozen=True)
class TeamsAppSettings:
    """What `python -m bot package` needs: the bot's app id and how the app presents itself.

    Only MicrosoftAppId is required: whoever builds the package need not hold the client
    secret."""

    app_id: str
    name: str = "Työkykytiimi"
    developer: str = "Työkykytiimi"
    website_url: str = UNSET_LISTING_URL
    privacy_url: str = UNSET_LISTING_URL + "/privacy"
    terms_url: str = UNSET_LISTING_URL + "/terms"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TeamsAppSettings:
        def get(name: str) -> str:
            return environ.get(name, "").strip()

        app_id = get("MicrosoftAppId")
        if not _GUID.match(app_id):
            raise SettingsError(
                "MicrosoftAppId (the bot's Azure app id, a GUID) is required to build the "
                "Teams app package"
            )
        name = get("TEAMS_APP_NAME") or cls.name
        if len(name) > 30:
            raise SettingsError("TEAMS_APP_NAME must be at most 30 characters (Teams' limit)")
        developer = get("TEAMS_APP_DEVELOPER") or cls.developer
        if len(developer) > 32:
            raise SettingsError("TEAMS_APP_DEVELOPER must be at most 32 characters (Teams' limit)")

        def url(variable: str, default: str) -> str:
            value = get(variable) or default
            if not value.startswith("https://") or len(value) > 2048:
                raise SettingsError(f"{variable} must be an https:// address")
            return value

        return cls(
            app_id=app_id.lower(),
            name=name,
            developer=developer,
            website_url=url("TEAMS_APP_WEBSITE_URL", cls.website_url),
            privacy_url=url("TEAMS_APP_PRIVACY_URL", cls.privacy_url),
            terms_url=url("TEAMS_APP_TERMS_URL", cls.terms_url),
        )

    def unset_urls(self) -> list[str]:
        """The listing addresses still at their reserved defaults, by variable name."""
        values = {
            "TEAMS_APP_WEBSITE_URL": self.website_url,
            "TEAMS_APP_PRIVACY_URL": self.privacy_url,
            "TEAMS_APP_TERMS_URL": self.terms_url,
        }
        return [name for name, value in values.items() if value.startswith(UNSET_LISTING_URL)]
