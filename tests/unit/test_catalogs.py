"""Every message the code can show exists in Finnish, Swedish and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES_DIR

ROOT = Path(__file__).resolve().parents[2]
# t("key"), texts("key"), self._texts(...)("key") and the like: a literal message id.
LITERAL = re.compile(r"""(?:\bt|texts|\))\(\s*"([a-z_]+(?:\.[a-z0-9_]+)+)"\s*[,)]""")
# Error codes the domain raises, or declares on its error classes.
ERROR = re.compile(
    r"""(?:Error|Refused|Input|Authorised|Found|Conflict)\(\s*"(error\.[a-z0-9_.]+)"""
    r"""|code = "(error\.[a-z0-9_.]+)\""""
)


def _used() -> set[str]:
    keys: set[str] = set()
    for package in ("bot", "dialogs", "consultations", "scheduler"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            keys.update(LITERAL.findall(text))
            for pair in ERROR.findall(text):
                keys.update(k for k in pair if k)
    return keys


def _catalog(language: str) -> dict[str, str]:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


USED = sorted(_used())


def test_the_scan_finds_the_messages_it_should() -> None:
    # A guard against a regex that silently matches nothing.
    assert {"help.title", "error.identity_code", "error.poll_closed"} <= set(USED)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_the_code_uses_is_translated(language: str) -> None:
    catalog = _catalog(language)
    missing = [key for key in USED if not catalog.get(key)]
    assert missing == []


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_language_has_the_same_messages_and_placeholders(language: str) -> None:
    finnish, other = _catalog("fi"), _catalog(language)
    assert set(finnish) == set(other)
    for key, text in finnish.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", other[key])), key
