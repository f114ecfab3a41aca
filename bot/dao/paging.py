"""One page of a query's rows, and how many pages there are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
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


async def fetch_page(
    session: AsyncSession, statement: Select[T], number: int, size: int
) -> Page[T]:
    """`statement` must be ordered; rows `number * size` onwards, `size` of them. One query:
    each row carries the count of them all (a window over the whole result, taken before
    the limit); only a page past the end, which has no rows to carry it, counts apart."""
    total_column = func.count().over().label("page_total")
    rows = (
        await session.execute(statement.add_columns(total_column).limit(size).offset(number * size))
    ).all()
    if rows:
        items: list[T] = [row[0] for row in rows]
        return Page(items=items, number=number, size=size, total=rows[0][-1])
    total = 0
    if number > 0:
        count = select(func.count()).select_from(statement.order_by(None).subquery())
        total = await session.scalar(count) or 0
    return Page(items=[], number=number, size=size, total=total)
