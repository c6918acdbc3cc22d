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
from babel.dates import format_interval, format_skeleton
from babel.messages.pofile import read_po

from consultations.model import TeamSettings

LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"
HELSINKI = ZoneInfo("Europe/Helsinki")
# A name for the type inside classes whose method is called `datetime`.
Moment = datetime
LOCALES_DIR = Path(__file__).parent / "locales"
# Formatting locales. Swedish as written in Finland; English as British English writes it
# (en_FI mixes "13.00" and "13:00" on one card).
_BABEL_LOCALE = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}
# CLDR skeletons: a date ("15.1.2027" / "15 Jan 2027") and a weekday with a date
# ("ti 1.12." / "tis 1.12" / "Tue 1 Dec"), each as the language writes it.
_DATE = {"fi": "yMd", "sv": "yMd", "en": "yMMMd"}
_DAY = {"fi": "MEd", "sv": "MEd", "en": "MMMEd"}


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
                forms = tuple(str(s) for s in message.string or ())
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
        """ "15.1.2027 klo 13.00" / "15.1.2027 kl. 13.00" / "15 Jan 2027, 13:00"."""
        return _formatted(self.language, "datetime", value, None)

    def date(self, value: date) -> str:
        """ "15.1.2027" / "15.1.2027" / "15 Jan 2027"."""
        return _formatted(self.language, "date", value, None)

    def time(self, value: Moment) -> str:
        """ "13.00" / "13.00" / "13:00", in Helsinki time."""
        return _formatted(self.language, "time", value, None)

    def span(self, start: Moment, end: Moment) -> str:
        """A meeting time with its weekday: "ti 1.12. klo 13.00–14.00" / "tis 1.12 kl.
        13.00–14.00" / "Tue 1 Dec, 13:00–14:00" (both dates when it crosses midnight)."""
        return _formatted(self.language, "span", start, end)

    def moment(self, value: Moment) -> str:
        """A moment in the weeks around a meeting, written like `span`: "ti 1.12. klo
        12.00" / "tis 1.12 kl. 12.00" / "Tue 1 Dec, 12:00" (a poll's deadline beside its
        slots, a snoozed reminder)."""
        return _formatted(self.language, "moment", value, None)


def _locale(language: str) -> Locale:
    return Locale.parse(_BABEL_LOCALE[language])


def _joined(language: str, day: str, clock: str) -> str:
    """A date and a time joined as CLDR says for the language: Finnish and Swedish with
    their "at" pattern ("klo", "kl."), English with its medium date-time pattern (", ")."""
    locale = _locale(language)
    if language == "en":
        pattern = str(locale.datetime_formats["medium"])
    else:
        # Babel keeps CLDR's dateTimeFormats-atTime under this name.
        pattern = str(locale._data["datetime_formats_relative"]["long"])
    return pattern.replace("'", "").format(clock, day)


@lru_cache(maxsize=8192)
def _formatted(language: str, style: str, value: date, end: datetime | None) -> str:
    # Babel's formatting is slow next to the rest of a card, and the same few moments
    # (a poll's slots and deadline) are shown over and over.
    locale = _locale(language)
    if not isinstance(value, datetime):
        return str(format_skeleton(_DATE[language], value, locale=locale))
    local = value.astimezone(HELSINKI)
    day = str(format_skeleton(_DATE[language], local, tzinfo=HELSINKI, locale=locale))
    clock = str(format_skeleton("Hm", local, tzinfo=HELSINKI, locale=locale))
    if style == "date":
        return day
    if style == "time":
        return clock
    if style == "datetime":
        return _joined(language, day, clock)
    weekday = str(format_skeleton(_DAY[language], local, tzinfo=HELSINKI, locale=locale))
    if style == "moment":
        return _joined(language, weekday, clock)
    assert end is not None
    local_end = end.astimezone(HELSINKI)
    if local_end.date() != local.date():
        until = _formatted(language, "datetime", end, None)
        return f"{_joined(language, weekday, clock)} – {until}"
    hours = str(format_interval(local, local_end, "Hm", tzinfo=HELSINKI, locale=locale))
    return _joined(language, weekday, hours)


def texts_for(locale: str | None) -> Texts:
    return Texts(language_of(locale))


def team_texts(settings: TeamSettings) -> Texts:
    """The texts of a team's channel: the language its coordinators chose in the team's
    settings (Finnish until they choose), whoever installed the bot or posts there."""
    return Texts(settings.language if settings.language in LANGUAGES else DEFAULT_LANGUAGE)
