"""One page of a query and the true total of the whole query, in one statement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, Subquery, func
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


async def page_by_key(
    session: AsyncSession,
    keys: Select[Any],
    order: Sequence[tuple[str, bool]],
    full: Callable[[Subquery], Select[Any]],
    limit: int,
    offset: int,
    **sums: Any,
) -> tuple[Sequence[RowMapping], dict[str, int]]:
    """`page_rows` for lists of wide rows (a request's text, a case's history): the list
    is sorted and counted on narrow rows, and only the page's rows are read whole.

    `keys` selects the row's key labelled "key" and the columns it is sorted by, labelled
    with the names in `order` ((name, descending) by priority); `full(page)` selects what
    a row shows, joined to the page's keys (`page.c.key`). Still one statement."""
    counted = keys.add_columns(
        func.count().over().label(TOTAL),
        *(func.sum(expression).over().label(name) for name, expression in sums.items()),
    )
    columns = {c.name: c for c in counted.selected_columns}
    ordering = [
        *(columns[name].desc() if descending else columns[name] for name, descending in order),
        columns["key"],
    ]
    page = counted.order_by(*ordering).limit(limit).offset(offset).subquery("page")
    query = (
        full(page)
        .add_columns(page.c[TOTAL], *(page.c[name] for name in sums))
        .order_by(
            *(page.c[name].desc() if descending else page.c[name] for name, descending in order),
            page.c.key,
        )
    )
    rows = (await session.execute(query)).mappings().all()
    found: Sequence[RowMapping] = rows
    if not rows and (offset or not limit):
        found = (await session.execute(counted.limit(1))).mappings().all()
    if not found:
        return rows, {TOTAL: 0, **dict.fromkeys(sums, 0)}
    first = found[0]
    return rows, {TOTAL: int(first[TOTAL]), **{name: int(first[name] or 0) for name in sums}}
