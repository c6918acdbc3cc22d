"""The Teams app package as a county's Teams admin and its users meet it: the app's name and
descriptions in their language, command menus with the words they type, product icons."""

from __future__ import annotations

import itertools
import json
import struct
import zipfile
import zlib
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.i18n import texts_for
from bot.package import MANIFEST_VERSION, package_files
from bot.settings import TeamsAppSettings

APP_ID = "0c5c3d2e-1111-4222-8333-944445555666"


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return package_files(TeamsAppSettings.from_env({"MicrosoftAppId": APP_ID}))


def _menus(manifest: dict[str, object], strings: dict[str, str] | None = None) -> dict[str, list]:
    """Scope -> the menu's (title, description) pairs, as Teams shows them in a language."""
    bot = manifest["bots"][0]  # type: ignore[index]
    menus = {}
    for i, entry in enumerate(bot["commandLists"]):
        pairs = []
        for j, command in enumerate(entry["commands"]):
            key = f"bots[0].commandLists[{i}].commands[{j}]"
            if strings is None:
                pairs.append((command["title"], command["description"]))
            else:
                pairs.append((strings[f"{key}.title"], strings[f"{key}.description"]))
        menus[entry["scopes"][0]] = pairs
    return menus


def test_the_package_speaks_finnish_and_brings_swedish_and_english(
    files: dict[str, bytes],
) -> None:
    manifest = json.loads(files["manifest.json"])
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    assert manifest["$schema"].endswith(f"/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json")
    assert manifest["localizationInfo"] == {
        "defaultLanguageTag": "fi",
        "additionalLanguages": [
            {"languageTag": "sv", "file": "sv.json"},
            {"languageTag": "en", "file": "en.json"},
        ],
    }
    assert sorted(files) == ["color.png", "en.json", "manifest.json", "outline.png", "sv.json"]
    assert manifest["name"] == {
        "short": "Työkykytiimi",
        "full": "Työkykytiimi – työkyvyn tuen tiimin konsultaatiot",
    }
    swedish = json.loads(files["sv.json"])
    assert swedish["name.full"] == "Työkykytiimi – konsultationer med arbetsförmågeteamet"
    assert swedish["description.short"].startswith("Konsultation med arbetsförmågeteamet")
    english = json.loads(files["en.json"])
    assert english["description.short"].startswith("Consult the work ability support team")


def test_the_menus_offer_the_main_commands_with_the_words_users_type(
    files: dict[str, bytes],
) -> None:
    manifest = json.loads(files["manifest.json"])
    titles = {scope: [title for title, _ in pairs] for scope, pairs in _menus(manifest).items()}
    assert titles == {
        "personal": ["uusi", "omat", "luonnokset", "asiakkaat", "jono", "raportti", "apua"],
        "team": ["apua", "asetukset"],
    }
    swedish = _menus(manifest, json.loads(files["sv.json"]))
    assert [t for t, _ in swedish["personal"]] == [
        "ny", "mina", "utkast", "klienter", "kö", "rapport", "hjälp"
    ]  # fmt: skip
    assert swedish["team"] == [
        ("hjälp", "Vad boten gör och vilka kommandon du kan använda"),
        ("inställningar", "Teamets konsultationstider och om svaren syns (koordinatorer)"),
    ]
    english = _menus(manifest, json.loads(files["en.json"]))
    assert [t for t, _ in english["personal"]] == [
        "new", "my", "drafts", "cases", "queue", "report", "help"
    ]  # fmt: skip
    assert english["personal"][0] == ("new", "File a new consultation request with the team")


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_every_menu_title_is_a_command_word_of_its_language(
    files: dict[str, bytes], language: str
) -> None:
    manifest = json.loads(files["manifest.json"])
    strings = None if language == "fi" else json.loads(files[f"{language}.json"])
    texts = texts_for(language)
    words = {texts(f"command.{c}") for c in ("new", "my", "drafts", "cases", "queue", "help")}
    words |= {texts("command.settings"), texts("command.report")}
    for pairs in _menus(manifest, strings).values():
        for title, description in pairs:
            assert title in words
            assert description and description != title


def test_the_version_is_the_installed_distributions(files: dict[str, bytes]) -> None:
    assert json.loads(files["manifest.json"])["version"] == version("tyokykytiimi")


def test_the_countys_name_and_addresses_go_into_every_language() -> None:
    app = TeamsAppSettings.from_env(
        {
            "MicrosoftAppId": APP_ID,
            "TEAMS_APP_NAME": "Työkykytiimi Pohjanmaa",
            "TEAMS_APP_DEVELOPER": "Pohjanmaan hyvinvointialue",
            "TEAMS_APP_PRIVACY_URL": "https://pohjanmaanhyvinvointi.fi/tietosuoja",
        }
    )
    files = package_files(app, "2.3.4")
    manifest = json.loads(files["manifest.json"])
    assert manifest["version"] == "2.3.4"
    assert manifest["developer"]["name"] == "Pohjanmaan hyvinvointialue"
    assert manifest["developer"]["privacyUrl"] == "https://pohjanmaanhyvinvointi.fi/tietosuoja"
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    for name in ("sv.json", "en.json"):
        strings = json.loads(files[name])
        assert strings["name.short"] == "Työkykytiimi Pohjanmaa"
        assert strings["name.full"].startswith("Työkykytiimi Pohjanmaa – ")


def _pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Width, height and RGBA pixels of the PNGs bot.icons writes (8-bit RGBA, filter 0)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour_type) == (8, 6)
    raw = zlib.decompress(data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8])
    stride = width * 4 + 1
    pixels = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0
        pixels += [tuple(row[1 + 4 * x : 5 + 4 * x]) for x in range(width)]
    return width, height, pixels  # type: ignore[return-value]


def test_the_colour_icon_is_192_pixels_opaque_with_a_symbol_in_the_middle(
    files: dict[str, bytes],
) -> None:
    width, height, pixels = _pixels(files["color.png"])
    assert (width, height) == (192, 192)
    assert all(a == 255 for *_, a in pixels)
    blue = (0, 94, 184, 255)
    assert pixels[0] == pixels[-1] == blue  # full bleed background
    # The symbol keeps to the middle 120x120 that Teams never masks.
    outside = [
        p for i, p in enumerate(pixels) if not (36 <= i % 192 < 156 and 36 <= i // 192 < 156)
    ]
    assert set(outside) == {blue}
    colours = set(pixels)
    assert (255, 255, 255, 255) in colours  # the figure in front
    assert (255, 198, 30, 255) in colours  # the rising line
    assert len(colours) > 50  # anti-aliased, not a flat glyph


def test_the_outline_icon_is_32_pixels_white_on_transparent_and_not_a_blob(
    files: dict[str, bytes],
) -> None:
    width, height, pixels = _pixels(files["outline.png"])
    assert (width, height) == (32, 32)
    assert {(r, g, b) for r, g, b, a in pixels if a} == {(255, 255, 255)}
    ink = sum(1 for *_, a in pixels if a > 127)
    clear = sum(1 for *_, a in pixels if a == 0)
    assert 0.15 < ink / len(pixels) < 0.5
    assert clear / len(pixels) > 0.4
    # Three heads side by side: the row through them crosses from clear to solid 3 times.
    row = [pixels[9 * 32 + x][3] > 127 for x in range(32)]
    assert sum(1 for a, b in itertools.pairwise(row) if b and not a) == 3


def test_python_m_bot_package_needs_only_the_app_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MicrosoftAppPassword", "MicrosoftAppTenantId", "PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MicrosoftAppId", APP_ID)
    output = tmp_path / "app.zip"

    main(["package", "--output", str(output)])

    out, err = capsys.readouterr()
    assert out.strip() == f"Teams app package written to {output}"
    assert "TEAMS_APP_PRIVACY_URL is not set" in err
    with zipfile.ZipFile(output) as archive:
        assert sorted(archive.namelist()) == [
            "color.png",
            "en.json",
            "manifest.json",
            "outline.png",
            "sv.json",
        ]
        assert json.loads(archive.read("manifest.json"))["id"] == APP_ID


def test_python_m_bot_package_without_the_app_id_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MicrosoftAppId", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["package", "--output", str(tmp_path / "app.zip")])
    assert exit_.value.code == 2
    assert "MicrosoftAppId" in capsys.readouterr().err
    assert not (tmp_path / "app.zip").exists()
