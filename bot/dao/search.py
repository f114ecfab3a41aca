"""Finding products on sale by words in their name or description (`products.search_text`,
folded by `searchable`): every word must appear, in any case, in any language."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.dao.catalog import CATEGORY_LISTED, PRODUCT_SHOWN, ProductView
from bot.dao.models import Product, search_text_of, searchable
from bot.dao.paging import Page, fetch_page

MAX_WORDS = 8  # a longer query is cut to its first words
_LIKE_ESCAPE = "\\"


def words_of(query: str) -> list[str]:
    """The query's words as the column holds them."""
    return searchable(query).split()[:MAX_WORDS]


def _contains(word: str) -> ColumnElement[bool]:
    escaped = word.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return Product.search_text.like(f"%{escaped}%", escape=_LIKE_ESCAPE)


class ProductSearch:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, query: str, number: int, size: int) -> Page[ProductView]:
        """Page `number` of the products on sale matching every word of `query` (all of
        them for a query without words), by name."""
        words = words_of(query)
        statement = (
            select(Product)
            .options(PRODUCT_SHOWN, joinedload(Product.category).options(CATEGORY_LISTED))
            .where(Product.on_sale, Product.deleted_at.is_(None), *map(_contains, words))
            .order_by(Product.name, Product.id)
        )
        page = await fetch_page(self.session, statement, number, size)
        items = tuple(ProductView.of(product) for product in page.items)
        return Page(items=items, number=number, size=size, total=page.total)


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
