"""Detection of Finnish personal identity codes (henkilötunnus).

Chat messages about work ability cases must not carry identity codes into
logs or persistent storage, so messages are screened with these helpers.

A code has the form ``DDMMYYCZZZQ``: birth date, century sign, individual
number and check character.  A candidate is reported only if the date exists
in the century given and the check character matches, which keeps ordinary
numbers, dates and phone numbers from being flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = [
    "REDACTION",
    "IdentityCodeMatch",
    "contains_identity_code",
    "find_identity_codes",
    "redact_identity_codes",
]

REDACTION = "[HETU]"

_CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"

_CENTURY_BY_SIGN: dict[str, int] = {
    "+": 1800,
    **dict.fromkeys("-YXWVU", 1900),
    **dict.fromkeys("ABCDEF", 2000),
}

# The lookarounds stop matches inside longer tokens such as order numbers;
# the check character class is deliberately broad and validated afterwards.
_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(?P<dd>\d{2})(?P<mm>\d{2})(?P<yy>\d{2})"
    r"(?P<sign>[-+A-FU-Y])"
    r"(?P<individual>\d{3})"
    r"(?P<check>[0-9A-Z])"
    r"(?![0-9A-Za-z])",
    re.IGNORECASE | re.ASCII,
)


@dataclass(frozen=True, slots=True)
class IdentityCodeMatch:
    """A valid identity code found in a text, with its ``[start, end)`` span."""

    start: int
    end: int
    text: str


def _is_valid(m: re.Match[str]) -> bool:
    # 000 and 001 are never issued; 900-999 are temporary codes, which still
    # identify a person and therefore count.
    if int(m["individual"]) < 2:
        return False
    year = _CENTURY_BY_SIGN[m["sign"].upper()] + int(m["yy"])
    try:
        date(year, int(m["mm"]), int(m["dd"]))
    except ValueError:
        return False
    number = int(m["dd"] + m["mm"] + m["yy"] + m["individual"])
    return _CHECK_CHARS[number % 31] == m["check"].upper()


def find_identity_codes(text: str) -> list[IdentityCodeMatch]:
    """Return every valid identity code in ``text``, in order of appearance.

    Matching is case-insensitive and finds codes embedded in sentences, but
    not inside longer alphanumeric tokens.
    """
    return [
        IdentityCodeMatch(m.start(), m.end(), m.group())
        for m in _CANDIDATE.finditer(text)
        if _is_valid(m)
    ]


def contains_identity_code(text: str) -> bool:
    """Return whether ``text`` contains at least one valid identity code."""
    return any(_is_valid(m) for m in _CANDIDATE.finditer(text))


def redact_identity_codes(text: str) -> str:
    """Replace every valid identity code in ``text`` with ``[HETU]``.

    Intended as defence in depth for log output; candidates that fail
    validation are left untouched.
    """
    return _CANDIDATE.sub(lambda m: REDACTION if _is_valid(m) else m.group(), text)
