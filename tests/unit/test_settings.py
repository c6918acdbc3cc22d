"""Settings read once from the environment, with the names Azure App Service uses."""

from __future__ import annotations

import pytest

from bot.__main__ import parse as parse_command_line
from bot.settings import (
    DEFAULT_DATABASE_URL,
    UNSET_LISTING_URL,
    Settings,
    SettingsError,
    TeamsAppSettings,
)

APP_ID = "0c5c3d2e-1111-4222-8333-944445555666"
TENANT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "very~secret.Password_123"


def azure(**extra: str) -> dict[str, str]:
    return {
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": SECRET,
        "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppTenantId": TENANT_ID,
        "PUBLIC_URL": "https://tyokykytiimi.hyvinvointialue.fi",
        **extra,
    }


def test_an_empty_environment_gives_a_local_unauthenticated_bot_on_loopback() -> None:
    settings = Settings.from_env({})

    assert settings.host == "127.0.0.1"
    assert settings.port == 3978
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert not settings.authenticated
    assert settings.admins == frozenset()
    assert (
        settings.per_conversation_per_second,
        settings.per_conversation_per_30s,
        settings.per_tenant_per_second,
    ) == (7.0, 60, 50.0)
    assert settings.max_delivery_attempts == 8
    settings.check_listen_address()


def test_the_azure_variable_names_configure_the_bot() -> None:
    settings = Settings.from_env(
        azure(
            PORT=" 8080 ",
            HOST="0.0.0.0",
            DATABASE_URL="postgresql+asyncpg://bot@db.internal/bot",
            BOT_ADMINS=f"{TENANT_ID.upper()}, {APP_ID}",
            MAX_DELIVERY_ATTEMPTS="5",
            RATE_PER_TENANT_PER_SECOND="20",
        )
    )

    assert settings.authenticated
    assert (settings.app_id, settings.app_password) == (APP_ID, SECRET)
    assert (settings.app_type, settings.app_tenant_id) == ("SingleTenant", TENANT_ID)
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.database_url == "postgresql+asyncpg://bot@db.internal/bot"
    assert settings.admins == {TENANT_ID, APP_ID}
    assert settings.max_delivery_attempts == 5
    assert settings.per_tenant_per_second == 20.0


def test_a_multi_tenant_bot_needs_no_tenant_id() -> None:
    settings = Settings.from_env(azure(MicrosoftAppType="MultiTenant", MicrosoftAppTenantId=""))
    assert settings.app_type == "MultiTenant"


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"PORT": "http"}, "PORT must be a number"),
        ({"PORT": "0"}, "PORT must be between 1 and 65535"),
        ({"PORT": "65536"}, "PORT must be between 1 and 65535"),
        ({"DATABASE_URL": "postgres://db/bot"}, "DATABASE_URL must start with"),
        ({"DATABASE_URL": "sqlite:///bot.db"}, "DATABASE_URL must start with"),
        (azure(MicrosoftAppTenantId=""), "MicrosoftAppTenantId"),
        (azure(MicrosoftAppTenantId="contoso.onmicrosoft.com"), "MicrosoftAppTenantId"),
        ({"MicrosoftAppPassword": SECRET}, "MicrosoftAppId is not"),
        (azure(MicrosoftAppPassword=""), "MicrosoftAppPassword is required"),
        (azure(MicrosoftAppId="my-bot"), "MicrosoftAppId must be"),
        (azure(MicrosoftAppType="Personal"), "MicrosoftAppType must be one of"),
        ({"BOT_ADMINS": f"{TENANT_ID},alice@example.com"}, "not one: alice@example.com"),
        ({"MAX_DELIVERY_ATTEMPTS": "0"}, "MAX_DELIVERY_ATTEMPTS must be at least"),
        ({"DISPATCH_INTERVAL_SECONDS": "soon"}, "DISPATCH_INTERVAL_SECONDS must be a number"),
        (azure(PUBLIC_URL=""), "PUBLIC_URL .* is required when MicrosoftAppId is set"),
        (azure(PUBLIC_URL="http://bot.example.fi"), "PUBLIC_URL .* is required"),
        ({"PUBLIC_URL": "bot.example.fi"}, "PUBLIC_URL must start with https://"),
        ({"METRICS_PORT": "metrics"}, "METRICS_PORT must be a number"),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT must be between 1 and 65535"),
        ({"METRICS_PORT": "3978"}, "METRICS_PORT must differ from PORT"),
        ({"METRICS_PORT": "9464", "METRICS_HOST": "0.0.0.0"}, "set METRICS_TOKEN"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 24 characters"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of text, json"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL must be one of"),
    ],
)
def test_a_wrong_setting_is_refused_with_a_message_naming_it(
    environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint) as refused:
        Settings.from_env(environ)
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.4", "bot.example.org"])
def test_without_credentials_the_bot_refuses_to_listen_beyond_loopback(host: str) -> None:
    with pytest.raises(SettingsError, match=f"refusing to listen on {host}"):
        Settings.from_env({"HOST": host}).check_listen_address()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_without_credentials_the_bot_listens_on_loopback(host: str) -> None:
    Settings.from_env({"HOST": host}).check_listen_address()


def test_with_credentials_the_bot_may_listen_on_every_interface() -> None:
    Settings.from_env(azure(HOST="0.0.0.0")).check_listen_address()


def test_the_password_never_shows_in_the_settings_repr() -> None:
    token = "scrape-me-with-this-token-0123456789"
    settings = Settings.from_env(azure(METRICS_PORT="9464", METRICS_TOKEN=token))
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert token not in repr(settings)
    assert APP_ID in repr(settings)


def test_metrics_are_off_and_logs_are_text_unless_asked_for() -> None:
    settings = Settings.from_env({})
    assert settings.metrics_port is None
    assert (settings.log_format, settings.log_level) == ("text", "INFO")


def test_metrics_beyond_loopback_need_the_bearer_token() -> None:
    token = "a-long-random-token-for-prometheus"
    settings = Settings.from_env(
        {"METRICS_PORT": "9464", "METRICS_HOST": "0.0.0.0", "METRICS_TOKEN": token}
    )
    assert (settings.metrics_host, settings.metrics_port) == ("0.0.0.0", 9464)
    assert settings.metrics_token == token
    on_loopback = Settings.from_env({"METRICS_PORT": "9464", "LOG_FORMAT": "JSON"})
    assert (on_loopback.metrics_host, on_loopback.metrics_token) == ("127.0.0.1", "")
    assert on_loopback.log_format == "json"


def test_the_teams_package_needs_only_the_app_id() -> None:
    app = TeamsAppSettings.from_env({"MicrosoftAppId": APP_ID.upper()})
    assert app.app_id == APP_ID
    assert app.name == "Työkykytiimi"
    assert app.unset_urls() == [
        "TEAMS_APP_WEBSITE_URL",
        "TEAMS_APP_PRIVACY_URL",
        "TEAMS_APP_TERMS_URL",
    ]
    assert app.privacy_url.startswith(UNSET_LISTING_URL)


def test_the_teams_package_takes_the_countys_name_and_addresses() -> None:
    app = TeamsAppSettings.from_env(
        {
            "MicrosoftAppId": APP_ID,
            "TEAMS_APP_NAME": "Työkykytiimi Pohjanmaa",
            "TEAMS_APP_DEVELOPER": "Pohjanmaan hyvinvointialue",
            "TEAMS_APP_WEBSITE_URL": "https://pohjanmaanhyvinvointi.fi/tyokyky",
            "TEAMS_APP_PRIVACY_URL": "https://pohjanmaanhyvinvointi.fi/tietosuoja",
            "TEAMS_APP_TERMS_URL": "https://pohjanmaanhyvinvointi.fi/kayttoehdot",
        }
    )
    assert (app.name, app.developer) == ("Työkykytiimi Pohjanmaa", "Pohjanmaan hyvinvointialue")
    assert app.unset_urls() == []


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({}, "MicrosoftAppId .* is required to build the Teams app package"),
        ({"MicrosoftAppId": "my-bot"}, "MicrosoftAppId .* is required"),
        ({"MicrosoftAppId": APP_ID, "TEAMS_APP_NAME": "x" * 31}, "TEAMS_APP_NAME must be at"),
        ({"MicrosoftAppId": APP_ID, "TEAMS_APP_DEVELOPER": "x" * 33}, "TEAMS_APP_DEVELOPER"),
        (
            {"MicrosoftAppId": APP_ID, "TEAMS_APP_PRIVACY_URL": "http://example.fi/privacy"},
            "TEAMS_APP_PRIVACY_URL must be an https:// address",
        ),
    ],
)
def test_a_wrong_package_setting_is_refused_with_a_message_naming_it(
    environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint):
        TeamsAppSettings.from_env(environ)


@pytest.mark.parametrize(
    ("argv", "command", "playground"),
    [
        ([], None, True),
        (["--no-playground"], None, False),  # what `scripts/run --no-playground` passes
        (["serve"], "serve", True),
        (["serve", "--no-playground"], "serve", False),
        (["--no-playground", "serve"], "serve", False),
        (["migrate"], "migrate", True),
        (["check"], "check", True),
        (["ready"], "ready", True),
        (["package"], "package", True),
    ],
)
def test_the_command_line_serves_with_or_without_the_playground(
    argv: list[str], command: str | None, playground: bool
) -> None:
    args = parse_command_line(argv)
    assert args.command == command
    assert (not args.no_playground) is playground
