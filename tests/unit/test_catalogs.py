"""Every message the code can show exists in Finnish, Swedish and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, Texts, catalog_files

ROOT = Path(__file__).resolve().parents[2]
# t("key"), texts("key"), t.n("key", …), self._texts(...)("key"): a literal message id.
LITERAL = re.compile(r"""(?:\bt|texts|\)|\.n)\(\s*"([a-z_]+(?:\.[a-z0-9_]+)+)"\s*[,)]""")
# Error codes the domain raises, or declares on its error classes.
ERROR = re.compile(
    r"""(?:Error|Refused|Input|Authorised|Found|Conflict)\(\s*"(error\.[a-z0-9_.]+)"""
    r"""|code = "(error\.[a-z0-9_.]+)\""""
)
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _used() -> set[str]:
    keys: set[str] = set()
    for package in ("bot", "dialogs", "consultations", "scheduler"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            keys.update(LITERAL.findall(text))
            for pair in ERROR.findall(text):
                keys.update(k for k in pair if k)
    return keys


def _entries(language: str) -> dict[str, tuple[str, ...]]:
    """Message id -> its text(s), across every catalog file of the language; fuzzy
    entries count as missing, as they are never served."""
    found: dict[str, tuple[str, ...]] = {}
    for path in catalog_files(language):
        with path.open("rb") as handle:
            for m in read_po(handle):
                if not m.id or m.fuzzy:
                    continue
                key = str(m.id[0] if isinstance(m.id, tuple) else m.id)
                assert key not in found, f"{key} is in two catalogs of {language}"
                strings = m.string if isinstance(m.string, tuple) else (m.string,)
                found[key] = tuple(str(s) for s in strings)
    return found


USED = sorted(_used())


def test_the_scan_finds_the_messages_it_should() -> None:
    # A guard against a regex that silently matches nothing.
    assert {"help.title", "error.identity_code", "error.poll_closed"} <= set(USED)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_the_code_uses_is_translated(language: str) -> None:
    entries = _entries(language)
    missing = [key for key in USED if not all(entries.get(key, ("",)))]
    assert missing == []


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_language_has_the_same_messages_and_placeholders(language: str) -> None:
    finnish, other = _entries("fi"), _entries(language)
    assert set(finnish) == set(other)
    for key, texts in finnish.items():
        wanted = set().union(*(PLACEHOLDER.findall(t) for t in texts))
        for text in other[key]:
            assert set(PLACEHOLDER.findall(text)) <= wanted | {"count"}, key
        assert len(other[key]) == len(texts), key


def test_plural_forms_follow_the_count() -> None:
    # fi, sv and en all have two forms: one, and everything else (zero included).
    texts = Texts("fi")
    entries = _entries("fi")
    forms = {key for key, value in entries.items() if len(value) == 2}
    assert "queue.waiting" in forms  # the scan finds the plural messages
    for key in forms:
        # Other placeholders (a plural sentence may hold more than the count) get a word.
        others = set().union(*(PLACEHOLDER.findall(t) for t in entries[key])) - {"count"}
        params = dict.fromkeys(others, "x")
        one, many = texts.n(key, 1, **params), texts.n(key, 2, **params)
        assert "1" in one and "2" in many, key


def test_a_fuzzy_translation_is_never_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A translator's unfinished guess (msgmerge marks it fuzzy) must not reach a user:
    # the text falls back to English, as for a message not translated at all.
    import bot.i18n as i18n

    for language, body in (
        ("fi", '#, fuzzy\nmsgid "x.greeting"\nmsgstr "Hei arvaus"\n'),
        ("en", 'msgid "x.greeting"\nmsgstr "Hello"\n'),
    ):
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "x.po").write_text(
            f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n{body}',
            encoding="utf-8",
        )
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.catalog.cache_clear()
    try:
        assert Texts("fi")("x.greeting") == "Hello"
    finally:
        i18n.catalog.cache_clear()
