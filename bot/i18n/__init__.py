"""Message catalogs (gettext .po, read with Babel) and locale-aware formatting."""

from __future__ import annotations

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


@cache
def catalog(language: str) -> dict[str, str]:
    """Message id -> translation for one language, read once from its .po file."""
    path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


@dataclass(frozen=True)
class Texts:
    """Everything a card or a reply needs to speak the user's language."""

    language: str

    def __call__(self, message_id: str, **params: object) -> str:
        text = catalog(self.language).get(message_id) or catalog("en").get(message_id)
        if text is None:
            # A missing id is a bug the catalog test catches; never show users a crash.
            text = message_id
        return text.format(**params) if params else text

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
