"""One page of a query's rows, and how many pages there are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Page(Generic[T_co]):
    items: Sequence[T_co]
    number: int  # 0-based
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.pages

    @property
    def exists(self) -> bool:
        """False for a page past the end (a stale button after rows were removed)."""
        return self.number < self.pages


class PagedSelect(Generic[T]):
    """An ordered select, read a page at a time: one query per page, whose rows each carry
    the count of them all (a window over the whole result, taken before the limit); only a
    page past the end, which has no rows to carry it, counts apart. Built once with the
    page's bounds as parameters, a module-level one is never built or keyed again (for a
    one-row read that costs as much as running it)."""

    def __init__(self, statement: Select[T]) -> None:
        total = func.count().over().label("page_total")
        self._rows = (
            statement.add_columns(total)
            .limit(bindparam("page_size", type_=Integer))
            .offset(bindparam("page_offset", type_=Integer))
        )
        self._count = (
            select(func.count())
            .select_from(statement.order_by(None).subquery())
            .execution_options(**statement.get_execution_options())
        )

    async def page(
        self, session: AsyncSession, number: int, size: int, **parameters: object
    ) -> Page[T]:
        """Page `number` (0-based) of `size` rows; `parameters` fill the statement's own."""
        bounds = {"page_size": size, "page_offset": number * size}
        rows = (await session.execute(self._rows, parameters | bounds)).all()
        if rows:
            items: list[T] = [row[0] for row in rows]
            return Page(items=items, number=number, size=size, total=rows[0][-1])
        total = 0
        if number > 0:
            total = await session.scalar(self._count, parameters) or 0
        return Page(items=[], number=number, size=size, total=total)


async def fetch_page(
    session: AsyncSession, statement: Select[T], number: int, size: int
) -> Page[T]:
    """`statement` must be ordered; rows `number * size` onwards, `size` of them."""
    return await PagedSelect(statement).page(session, number, size)
