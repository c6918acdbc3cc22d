"""Lists that page: what a list card shows is one page of a longer list, with the true
total of the whole list beside it (a county's queue holds thousands of requests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# The furthest a list may be paged: far beyond any real list, small enough that a
# tampered offset cannot make the database skip through millions of rows.
MAX_OFFSET = 100_000
# The most rows a page reads: a card shows at most this many (fewer when they are long).
MAX_PAGE = 25


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, where it starts, and how many the list holds."""

    items: Sequence[T]
    offset: int
    total: int

    @property
    def end(self) -> int:
        return self.offset + len(self.items)


def page_window(offset: int, limit: int) -> tuple[int, int]:
    """The (offset, limit) a use case reads: both bounded, whatever a card asked for."""
    return max(0, min(offset, MAX_OFFSET)), max(0, min(limit, MAX_PAGE))
