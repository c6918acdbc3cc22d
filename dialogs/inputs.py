"""Reading untrusted card data: what a tampered payload can put there is refused here."""

from __future__ import annotations

from collections.abc import Mapping
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
