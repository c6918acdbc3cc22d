"""Reading an Adaptive Card the way a user sees it: its inputs, buttons and texts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def nodes(card: Any) -> Iterator[dict[str, Any]]:
    """Every element of the card, depth first."""
    if isinstance(card, dict):
        yield card
        for value in card.values():
            yield from nodes(value)
    elif isinstance(card, list):
        for value in card:
            yield from nodes(value)


def find(card: Any, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    return [node for node in nodes(card) if predicate(node)]


def inputs(card: Any) -> dict[str, dict[str, Any]]:
    """Inputs by id."""
    return {
        n["id"]: n for n in nodes(card) if str(n.get("type", "")).startswith("Input.") and "id" in n
    }


def executes(card: Any) -> list[dict[str, Any]]:
    """Every Action.Execute, in card order (a verb may appear on several buttons)."""
    return find(card, lambda n: n.get("type") == "Action.Execute")


def actions(card: Any) -> dict[str, dict[str, Any]]:
    """Action.Execute buttons by verb (the last one wins when a verb repeats)."""
    return {n["verb"]: n for n in executes(card)}


def open_urls(card: Any) -> list[dict[str, Any]]:
    return find(card, lambda n: n.get("type") == "Action.OpenUrl")


def texts(card: Any) -> str:
    """All text a user can read on the card, one piece a line."""
    return "\n".join(
        n[key]
        for n in nodes(card)
        for key in ("text", "title", "value")
        if isinstance(n.get(key), str)
    )
