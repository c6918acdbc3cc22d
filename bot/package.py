"""Build the Teams app package (manifest + icons) to sideload or upload to the org catalog."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from bot.settings import Settings, SettingsError

VERSION = "0.1.0"
# Helsinki-blue circle on white: drawn here so no binary lives in the repository.
_COLOR = (0, 94, 184)


def _png(size: int, *, outline: bool) -> bytes:
    """A square PNG with a filled circle: full colour, or white on transparent (outline)."""
    rows = []
    centre, radius = (size - 1) / 2, size * 0.42
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius**2
            if outline:
                row += bytes((255, 255, 255, 255 if inside else 0))
            else:
                row += bytes((*_COLOR, 255) if inside else (255, 255, 255, 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def manifest(app_id: str) -> dict[str, Any]:
    commands = [
        {"title": "help", "description": "Ohje / Hjälp / Help"},
        {"title": "profile", "description": "Ammatti / Yrke / Profession"},
        {"title": "roles", "description": "Roolit / Roller / Roles"},
        {"title": "deliveries", "description": "Toimitukset / Leveranser / Deliveries"},
    ]
    return {
        "$schema": "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json",
        "manifestVersion": "1.17",
        "version": VERSION,
        "id": app_id,
        "developer": {
            "name": "Työkykytiimi",
            "websiteUrl": "https://example.invalid/tyokykytiimi",
            "privacyUrl": "https://example.invalid/tyokykytiimi/privacy",
            "termsOfUseUrl": "https://example.invalid/tyokykytiimi/terms",
        },
        "name": {"short": "Työkykytiimi", "full": "Työkykytiimi - työkyvyn tuen tiimi"},
        "description": {
            "short": "Työkyvyn tuen tiimin konsultaatiot Teamsissa",
            "full": (
                "Konsultaatiopyynnöt, tiimin kokoaminen, ajan sopiminen, kokousyhteenvedot ja "
                "suositusten seuranta työkyvyn tuen tiimeille."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#005EB8",
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal"], "commands": commands},
                    {"scopes": ["team"], "commands": commands[:1]},
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
        "localizationInfo": {"defaultLanguageTag": "fi-FI"},
    }


def build_package(settings: Settings, output: Path) -> Path:
    if not settings.app_id:
        raise SettingsError("set MicrosoftAppId to build the Teams app package")
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest(settings.app_id), indent=2))
        archive.writestr("color.png", _png(192, outline=False))
        archive.writestr("outline.png", _png(32, outline=True))
    return output
