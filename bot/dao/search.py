"""Finding products on sale by words in their name or description (`products.search_text`,
folded by `searchable`): every word must appear, in any case, in any language."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.dao.catalog import CATEGORY_LISTED, PRODUCT_SHOWN, ProductView
from bot.dao.models import Product, search_text_of, searchable
from bot.dao.paging import Page

MAX_WORDS = 8  # a longer query is cut to its first words
_LIKE_ESCAPE = "\\"


def words_of(query: str) -> list[str]:
    """The query's words as the column holds them."""
    return searchable(query).split()[:MAX_WORDS]


def _contains(word: str) -> ColumnElement[bool]:
    escaped = word.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return Product.search_text.like(f"%{escaped}%", escape=_LIKE_ESCAPE)


@dataclass(frozen=True)
class Found:
    """Products found from an offset on, and whether more follow (no count of them all)."""

    items: tuple[ProductView, ...]
    more: bool


class ProductSearch:
    """Every query reads all products on sale (LIKE '%word%' uses no index): fine for the
    thousands a shop has (bench.search). The matches are sorted and counted by id and name
    alone, and only the page's rows are read whole: a window over whole rows would carry
    each match's description through the sort."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, query: str, number: int, size: int) -> Page[ProductView]:
        """Page `number` of the products on sale matching every word of `query` (all of
        them for a query without words), by name, with how many match in all."""
        matching = _matching(query)
        rows = await self._read(matching, number * size, size, counted=True)
        if rows:
            return Page(
                items=tuple(row[0] for row in rows), number=number, size=size, total=rows[0][1]
            )
        total = 0
        if number > 0:  # past the end: how many there are, for the pager
            total = await self.session.scalar(select(func.count(Product.id)).where(*matching)) or 0
        return Page(items=(), number=number, size=size, total=total)

    async def after(self, query: str, offset: int, size: int) -> Found:
        """`size` matches from `offset` on, and whether there are more: for inline mode,
        which pages without a count."""
        rows = await self._read(_matching(query), offset, size + 1, counted=False)
        return Found(items=tuple(row[0] for row in rows[:size]), more=len(rows) > size)

    async def _read(
        self, matching: list[ColumnElement[bool]], offset: int, limit: int, *, counted: bool
    ) -> list[tuple[ProductView, int]]:
        """The matches' page, each with the count of them all (0 unless `counted`)."""
        total = func.count().over() if counted else literal(0)
        ids = (
            select(Product.id, total.label("total"))
            .where(*matching)
            .order_by(Product.name, Product.id)
            .offset(offset)
            .limit(limit)
            .subquery()
        )
        statement = (
            select(Product, ids.c.total)
            .join(ids, Product.id == ids.c.id)
            .options(PRODUCT_SHOWN, joinedload(Product.category).options(CATEGORY_LISTED))
            .order_by(Product.name, Product.id)
        )
        rows = await self.session.execute(statement)
        return [(ProductView.of(product), int(count)) for product, count in rows]


def _matching(query: str) -> list[ColumnElement[bool]]:
    """On sale, and holding every word of `query`."""
    return [
        Product.on_sale.is_(True),
        Product.deleted_at.is_(None),
        *map(_contains, words_of(query)),
    ]


async def fold_missing(session: AsyncSession, limit: int) -> int:
    """Fill `search_text` for up to `limit` products that have none (written by offline SQL,
    which cannot fold in Python, or by a release from before the column); how many."""
    rows = (
        await session.execute(
            select(Product.id, Product.name, Product.description)
            .where(Product.search_text.is_(None))
            .order_by(Product.id)
            .limit(limit)
        )
    ).all()
    for product_id, name, description in rows:
        await session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(search_text=search_text_of(name, description))
            .execution_options(synchronize_session=False)
        )
    return len(rows)
