"""Message catalogs (gettext .po, read with Babel) and locale-aware formatting.

Each language has one catalog per capability (`locales/<lang>/LC_MESSAGES/<room>.po`),
merged at first use; a message id lives in exactly one of them. Plural messages
(`msgid_plural`) are looked up by their singular id through `Texts.n`, which picks the
language's form for the count. Fuzzy entries are never served.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po

LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"
HELSINKI = ZoneInfo("Europe/Helsinki")
LOCALES_DIR = Path(__file__).parent / "locales"
# Formatting locales: Finnish conventions for every language the users speak.
_BABEL_LOCALE = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_FI"}


def language_of(locale: str | None) -> str:
    """Map a Teams locale such as `sv-SE` to one of our languages; Finnish when unknown."""
    if not locale or not isinstance(locale, str):
        return DEFAULT_LANGUAGE
    head = locale.replace("_", "-").split("-", 1)[0].lower()
    return head if head in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Catalog:
    """One language's messages: plain ones, plural ones, and its plural rule."""

    messages: dict[str, str]
    plurals: dict[str, tuple[str, ...]]
    plural_index: Callable[[int], int]


def catalog_files(language: str) -> list[Path]:
    return sorted((LOCALES_DIR / language / "LC_MESSAGES").glob("*.po"))


@cache
def catalog(language: str) -> Catalog:
    """Every catalog file of one language, read once and merged."""
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    plural_expr = "(n != 1)"
    for path in catalog_files(language):
        with path.open("rb") as handle:
            po = read_po(handle, locale=language)
        plural_expr = po.plural_expr or plural_expr
        for message in po:
            if not message.id or message.fuzzy:
                continue
            if isinstance(message.id, tuple):
                forms = tuple(str(s) for s in message.string)
                if all(forms):
                    plurals[str(message.id[0])] = forms
            elif message.string:
                messages[str(message.id)] = str(message.string)
    return Catalog(messages, plurals, gettext.c2py(plural_expr))


@dataclass(frozen=True)
class Texts:
    """Everything a card or a reply needs to speak the user's language."""

    language: str

    def __call__(self, message_id: str, **params: object) -> str:
        text = catalog(self.language).messages.get(message_id) or catalog("en").messages.get(
            message_id
        )
        if text is None:
            # A missing id is a bug the catalog test catches; never show users a crash.
            text = message_id
        return text.format(**params) if params else text

    def n(self, message_id: str, count: int, **params: object) -> str:
        """A plural message in the form the count needs ("1 pyyntö", "2 pyyntöä");
        `count` is passed to the text as {count}."""
        found = catalog(self.language)
        forms = found.plurals.get(message_id)
        if forms is None:
            return self(message_id, count=count, **params)
        index = min(found.plural_index(count), len(forms) - 1)
        return forms[index].format(count=count, **params)

    def datetime(self, value: datetime) -> str:
        return _short_datetime(self.language, value)

    def date(self, value: date) -> str:
        return str(format_date(value, "medium", locale=self._babel()))

    def _babel(self) -> Locale:
        return Locale.parse(_BABEL_LOCALE[self.language])


@lru_cache(maxsize=4096)
def _short_datetime(language: str, value: datetime) -> str:
    # Babel's formatting is slow next to the rest of a card, and the same few moments
    # (a poll's slots and deadline) are shown over and over.
    locale = Locale.parse(_BABEL_LOCALE[language])
    return str(format_datetime(value.astimezone(HELSINKI), "short", tzinfo=HELSINKI, locale=locale))


def texts_for(locale: str | None) -> Texts:
    return Texts(language_of(locale))
