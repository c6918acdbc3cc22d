"""Build the Teams app package (manifest, its translations, icons) to sideload or to upload
to the organisation's app catalog.

Finnish is the manifest's own language; Swedish and English come as localization files.
Command titles are the words users type (`command.*` in the catalogs), so the menu and
the keyboard agree in every language.
"""

from __future__ import annotations

import json
import re
import zipfile
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog
from bot.icons import ACCENT, color_icon, outline_icon
from bot.settings import SettingsError, TeamsAppSettings

MANIFEST_VERSION = "1.29"
SCHEMA_BASE = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}"
MANIFEST_SCHEMA = f"{SCHEMA_BASE}/MicrosoftTeams.schema.json"
LOCALIZATION_SCHEMA = f"{SCHEMA_BASE}/MicrosoftTeams.Localization.schema.json"
DISTRIBUTION = "tyokykytiimi"

# The menus Teams offers above the compose box, in the order shown.
COMMAND_LISTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("personal", ("new", "my", "drafts", "cases", "queue", "report", "help")),
    ("team", ("help", "settings")),
)
# Teams matches a client's sv-SE or sv-FI to "sv", en-GB to "en".
LANGUAGE_TAGS = {"fi": "fi", "sv": "sv", "en": "en"}
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def app_version() -> str:
    """The installed distribution's version: Teams needs a plain MAJOR.MINOR.PATCH, raised
    with every package uploaded to the catalog."""
    found = installed_version(DISTRIBUTION)
    if not _SEMVER.match(found):
        raise SettingsError(
            f"the package version {found!r} is not MAJOR.MINOR.PATCH, which Teams requires; "
            "set [project] version in pyproject.toml"
        )
    return found


def _text(language: str, message_id: str, **params: str) -> str:
    """A catalog text, strictly: a package must never show a message id to users."""
    found = catalog(language).messages.get(message_id)
    if not found:
        raise LookupError(f"{message_id} has no {language} text in the catalogs")
    return found.format(**params) if params else found


def strings(language: str, app: TeamsAppSettings) -> dict[str, str]:
    """Everything the manifest says in one language, keyed as localization files key it."""
    found = {
        "name.short": app.name,
        "name.full": _text(language, "package.name.full", name=app.name),
        "description.short": _text(language, "package.description.short"),
        "description.full": _text(language, "package.description.full"),
    }
    for list_index, (_scope, commands) in enumerate(COMMAND_LISTS):
        for index, command in enumerate(commands):
            key = f"bots[0].commandLists[{list_index}].commands[{index}]"
            found[f"{key}.title"] = _text(language, f"command.{command}")
            found[f"{key}.description"] = _text(language, f"package.command.{command}")
    return found


def manifest(app: TeamsAppSettings, version: str) -> dict[str, Any]:
    texts = strings(DEFAULT_LANGUAGE, app)
    command_lists = [
        {
            "scopes": [scope],
            "commands": [
                {
                    "title": texts[f"bots[0].commandLists[{i}].commands[{j}].title"],
                    "description": texts[f"bots[0].commandLists[{i}].commands[{j}].description"],
                }
                for j in range(len(commands))
            ],
        }
        for i, (scope, commands) in enumerate(COMMAND_LISTS)
    ]
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app.app_id,
        "developer": {
            "name": app.developer,
            "websiteUrl": app.website_url,
            "privacyUrl": app.privacy_url,
            "termsOfUseUrl": app.terms_url,
        },
        "name": {"short": texts["name.short"], "full": texts["name.full"]},
        "description": {
            "short": texts["description.short"],
            "full": texts["description.full"],
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app.app_id,
                "scopes": ["personal", "team"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": command_lists,
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
        "localizationInfo": {
            "defaultLanguageTag": LANGUAGE_TAGS[DEFAULT_LANGUAGE],
            "additionalLanguages": [
                {"languageTag": LANGUAGE_TAGS[language], "file": f"{language}.json"}
                for language in LANGUAGES
                if language != DEFAULT_LANGUAGE
            ],
        },
    }


def localization(language: str, app: TeamsAppSettings) -> dict[str, str]:
    return {"$schema": LOCALIZATION_SCHEMA, **strings(language, app)}


def package_files(app: TeamsAppSettings, version: str | None = None) -> dict[str, bytes]:
    """Every file of the package by name."""
    files = {
        "manifest.json": _json(manifest(app, version or app_version())),
        "color.png": color_icon(),
        "outline.png": outline_icon(),
    }
    for language in LANGUAGES:
        if language != DEFAULT_LANGUAGE:
            files[f"{language}.json"] = _json(localization(language, app))
    return files


def build_package(app: TeamsAppSettings, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        # Teams wants the files at the root of the zip, not in a folder.
        for name, data in package_files(app).items():
            archive.writestr(name, data)
    return output


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
