"""Reading the team settings card (`asetukset`): what a coordinator sent, checked before
the use case stores it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consultations.errors import DomainError, InvalidInput
from consultations.model import LANGUAGES, TeamSettings
from dialogs.cards.registry import SETTINGS_ROWS


def read_team_settings(data: Mapping[str, Any]) -> TeamSettings:
    """The card's regular times, tally visibility and channel language; a malformed
    payload is refused (InvalidInput), a time that cannot be read says so."""
    regular: list[tuple[int, int, int]] = []
    for row in range(1, SETTINGS_ROWS + 1):
        day, clock = data.get(f"regular{row}_day"), data.get(f"regular{row}_time")
        if day in (None, "") and clock in (None, ""):
            continue
        if not isinstance(day, str) or not isinstance(clock, str):
            raise DomainError("error.regular_time")
        try:
            hour, minute = (int(part) for part in clock[:5].split(":"))
            regular.append((int(day), hour, minute))
        except ValueError:
            raise DomainError("error.regular_time") from None
    tallies = data.get("show_tallies", "true")
    if tallies not in ("true", "false", True, False):
        raise InvalidInput()
    # A card from before the language was on it leaves it Finnish, the default.
    language = data.get("language") or LANGUAGES[0]
    if language not in LANGUAGES:
        raise InvalidInput()
    return TeamSettings(
        regular_times=tuple(sorted(regular)),
        show_tallies=tallies in ("true", True),
        language=language,
    )
