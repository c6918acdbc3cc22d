"""One page of a query and the true total of the whole query, in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

TOTAL = "page_total"


async def page_rows(
    session: AsyncSession, query: Select[Any], limit: int, offset: int, **sums: Any
) -> tuple[Sequence[RowMapping], dict[str, int]]:
    """The rows of one page of `query` (ordered) and totals over the whole query: its
    row count under `TOTAL`, and the sum of each expression in `sums` under its name.

    The totals ride on the page's rows as window functions, which are computed over
    every row before LIMIT applies: one statement. Only a page that comes back empty
    (a list asked past its end, or a limit of 0) costs a second one, for the totals."""
    windowed = query.add_columns(
        func.count().over().label(TOTAL),
        *(func.sum(expression).over().label(name) for name, expression in sums.items()),
    )
    rows = (await session.execute(windowed.limit(limit).offset(offset))).mappings().all()
    found = rows
    if not rows and (offset or not limit):
        found = (await session.execute(windowed.limit(1))).mappings().all()
    if not found:
        return rows, {TOTAL: 0, **dict.fromkeys(sums, 0)}
    first = found[0]
    return rows, {TOTAL: int(first[TOTAL]), **{name: int(first[name] or 0) for name in sums}}
