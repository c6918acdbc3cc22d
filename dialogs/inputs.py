"""Reading untrusted card data: what a tampered payload can put there is refused here."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from consultations.errors import InvalidInput
from consultations.lists import MAX_OFFSET

_MAX_ID = 2**31 - 1


def positive_id(data: Mapping[str, Any], key: str) -> int:
    """A database id from card data: a plain positive integer (or its digits), else refused."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput()
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput() from None
    if not 0 < number <= _MAX_ID:
        raise InvalidInput()
    return number


def optional_date(value: Any) -> date | None:
    """An Input.Date value ("2026-12-03"); empty is None, anything else malformed is refused."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise InvalidInput() from None


def id_list(value: Any) -> list[int]:
    """A multi-select of ids ("3,5,8", or a list), each a positive id, else refused."""
    if value in (None, ""):
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InvalidInput()
    return [
        positive_id({"id": item.strip() if isinstance(item, str) else item}, "id") for item in items
    ]


def page_offset(data: Mapping[str, Any]) -> int:
    """Where a "Show more" button asks a list to go on from: missing is the first page;
    anything but a whole number from 0 to MAX_OFFSET is refused."""
    value = data.get("offset")
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput()
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise InvalidInput()
    number = int(value)
    if not 0 <= number <= MAX_OFFSET:
        raise InvalidInput()
    return number


def one_of(data: Mapping[str, Any], key: str, allowed: Collection[str]) -> str:
    """A value the card itself sets (a list's part, a tab): missing is "", else one of
    `allowed`, else refused."""
    value = data.get(key)
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput()
    return value
