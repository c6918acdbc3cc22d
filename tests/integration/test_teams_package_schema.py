"""The Teams app package passes Microsoft's own JSON schemas, checked by the validator of
npm `@microsoft/app-manifest` (tools/manifest, installed by scripts/bootstrap), offline."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.package import LOCALIZATION_SCHEMA, MANIFEST_SCHEMA, build_package
from bot.settings import TeamsAppSettings
from tests.conftest import IN_CI

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "manifest"
VALIDATOR = TOOLS / "validate.js"
APP_ID = "0c5c3d2e-1111-4222-8333-944445555666"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    missing = []
    if found is None:
        missing.append("Node.js (node) is not on PATH")
    if not (TOOLS / "node_modules" / "@microsoft" / "app-manifest").is_dir():
        missing.append(f"run `npm ci --prefix {TOOLS}` (scripts/bootstrap does)")
    if missing:
        if IN_CI:
            pytest.fail(f"the manifest validator must run in CI: {'; '.join(missing)}")
        pytest.skip("; ".join(missing))
    assert found is not None
    return found


def _validate(node: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(VALIDATOR), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _unpacked(tmp_path: Path, app: TeamsAppSettings) -> dict[str, Path]:
    archive = build_package(app, tmp_path / "app.zip")
    folder = tmp_path / "package"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder)
    return {path.name: path for path in folder.glob("*.json")}


def test_the_manifest_and_every_localization_file_pass_microsofts_schemas(
    node: str, tmp_path: Path
) -> None:
    files = _unpacked(tmp_path, TeamsAppSettings.from_env({"MicrosoftAppId": APP_ID}))
    assert sorted(files) == ["en.json", "manifest.json", "sv.json"]

    result = _validate(node, [files["manifest.json"], files["sv.json"], files["en.json"]])

    assert result.returncode == 0, result.stdout + result.stderr
    schema = MANIFEST_SCHEMA.removeprefix("https://developer.microsoft.com/")
    localization = LOCALIZATION_SCHEMA.removeprefix("https://developer.microsoft.com/")
    lines = result.stdout.splitlines()
    assert lines[0] == f"ok {files['manifest.json']} ({schema})"
    assert lines[1].startswith(f"ok {files['sv.json']} ({localization})")
    assert lines[2].startswith(f"ok {files['en.json']} ({localization})")


def test_the_longest_names_a_county_may_set_still_pass(node: str, tmp_path: Path) -> None:
    app = TeamsAppSettings.from_env(
        {
            "MicrosoftAppId": APP_ID,
            "TEAMS_APP_NAME": "Työkykytiimi Keski-Pohjanmaa",  # 28 of 30 characters
            "TEAMS_APP_DEVELOPER": "Keski-Pohjanmaan hyvinvointialue",  # 32 of 32
            "TEAMS_APP_WEBSITE_URL": "https://soite.fi/tyokykytiimi",
        }
    )
    files = _unpacked(tmp_path, app)
    result = _validate(node, sorted(files.values()))
    assert result.returncode == 0, result.stdout


def test_a_manifest_or_translation_that_breaks_the_schema_fails(node: str, tmp_path: Path) -> None:
    files = _unpacked(tmp_path, TeamsAppSettings.from_env({"MicrosoftAppId": APP_ID}))
    manifest = json.loads(files["manifest.json"].read_text(encoding="utf-8"))
    del manifest["developer"]["privacyUrl"]
    manifest["bots"][0]["commandLists"][0]["commands"][0]["title"] = "uusi" * 40
    broken_manifest = tmp_path / "broken-manifest.json"
    broken_manifest.write_text(json.dumps(manifest), encoding="utf-8")
    swedish = json.loads(files["sv.json"].read_text(encoding="utf-8"))
    swedish["description.short"] = "x" * 81
    broken_swedish = tmp_path / "broken-sv.json"
    broken_swedish.write_text(json.dumps(swedish), encoding="utf-8")

    result = _validate(node, [broken_manifest, broken_swedish, files["en.json"]])

    assert result.returncode == 1
    out = result.stdout
    assert f"FAIL {broken_manifest}" in out
    assert "must have required property 'privacyUrl'" in out
    assert "/bots/0/commandLists/0/commands/0/title must NOT have more than 128 characters" in out
    assert f"FAIL {broken_swedish}" in out
    assert "/description.short must NOT have more than 80 characters" in out
    assert f"ok {files['en.json']}" in out


def test_a_file_whose_schema_the_validator_does_not_ship_fails_instead_of_fetching(
    node: str, tmp_path: Path
) -> None:
    files = _unpacked(tmp_path, TeamsAppSettings.from_env({"MicrosoftAppId": APP_ID}))
    manifest = json.loads(files["manifest.json"].read_text(encoding="utf-8"))
    manifest["$schema"] = "https://example.org/teams/v9.9/MicrosoftTeams.schema.json"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(manifest), encoding="utf-8")

    result = _validate(node, [elsewhere])

    assert result.returncode == 1
    assert "is not a Microsoft Teams schema address" in result.stdout
