"""Reading untrusted card data: what a tampered payload can put there is refused here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from consultations.errors import InvalidInput

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
