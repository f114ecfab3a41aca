"""Queries about categories and products."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload, load_only

from bot.dao.catalog_cache import CatalogCache, kept_in
from bot.dao.models import KIND_UNLIMITED, Category, Product, Purchase
from bot.dao.paging import Page, PagedSelect, fetch_page
from bot.dao.reviews import NO_REVIEWS, REVIEW_AVERAGE, REVIEW_COUNT, ReviewSummary, summary_of
from bot.dao.routing import LATEST
from bot.dao.upsert import dialect_insert


class ShownCategory(Protocol):
    """What a customer's screen shows of a category: a `Category` or a `CategoryView`."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...


class ShownProduct(Protocol):
    """What a customer's screen shows of a product: a `Product` or a `ProductView`."""

    @property
    def id(self) -> int: ...
    @property
    def category_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def price(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def photo(self) -> str | None: ...
    @property
    def category(self) -> ShownCategory: ...


@dataclass(frozen=True, slots=True)
class CategoryView:
    """A category as the catalog screens read it: immutable, so one read serves every update
    (bot.dao.catalog_cache)."""

    id: int
    name: str
    photo: str | None = None

    @classmethod
    def of(cls, category: Category) -> CategoryView:
        return cls(category.id, category.name, category.photo)


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product on sale as the catalog screens read it (never its content), immutable."""

    id: int
    category_id: int
    name: str
    description: str
    price: int
    currency: str
    kind: str
    photo: str | None
    category: CategoryView
    reviews: ReviewSummary = NO_REVIEWS  # read for a card only

    @classmethod
    def of(cls, product: Product, reviews: ReviewSummary = NO_REVIEWS) -> ProductView:
        return cls(
            product.id,
            product.category_id,
            product.name,
            product.description,
            product.price,
            product.currency,
            product.kind,
            product.photo,
            CategoryView.of(product.category),
            reviews,
        )


_LISTED = Product.deleted_at.is_(None)  # deleted products are kept only for late payments
# What the customer's catalog screens show of a category and of a product: only these columns
# are loaded there (loading whole rows was a third of a page's time; a product's content is
# never among them). Reading any other attribute is an error (no lazy loads in async).
CATEGORY_LISTED = load_only(Category.id, Category.name, Category.photo, raiseload=True)
PRODUCT_SHOWN = load_only(
    Product.id,
    Product.category_id,
    Product.name,
    Product.description,
    Product.price,
    Product.currency,
    Product.kind,
    Product.photo,
    raiseload=True,
)

# The customer's catalog screens run these when what they show is not in the cache: built
# once, they are never built or keyed again (for a one-row read, as costly as running it).
# They read the latest commit (LATEST: never a replica that may lag), which the cache keeps.
_CATEGORIES_ON_SALE = (
    select(Category, func.count(Product.id))
    .options(CATEGORY_LISTED)
    .join(Product)
    .where(Product.on_sale)
    .group_by(Category.id)
    .order_by(Category.name, Category.id)
    .execution_options(**{LATEST: True})
)
_CARD = (
    select(Product, REVIEW_COUNT, REVIEW_AVERAGE)
    .options(PRODUCT_SHOWN, joinedload(Product.category).options(CATEGORY_LISTED))
    .where(Product.id == bindparam("product_id"), Product.on_sale, _LISTED)
    .execution_options(**{LATEST: True})
)
_PAGE_ON_SALE = PagedSelect(
    select(Product)
    .join(Product.category)
    .options(PRODUCT_SHOWN, contains_eager(Product.category).options(CATEGORY_LISTED))
    .where(Product.category_id == bindparam("category_id"), Product.on_sale)
    .order_by(Product.name, Product.id)
    .execution_options(**{LATEST: True})
)


async def _photo_set(
    session: AsyncSession, model: type[Category] | type[Product], row_id: int, photo: str | None
) -> bool:
    changed = await session.execute(
        update(model)
        .where(model.id == row_id)
        .values(photo=photo, updated_at=func.now())
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return changed.first() is not None


async def _saved(session: AsyncSession, change: Callable[[], object]) -> bool:
    """Apply `change` and flush it in a savepoint; False (change undone) if a constraint refused."""
    try:
        async with session.begin_nested():
            result = change()
            if inspect.isawaitable(result):
                await result
            await session.flush()
    except IntegrityError:
        return False
    return True


class CategoryDAO:
    def __init__(self, session: AsyncSession, catalog: CatalogCache | None = None) -> None:
        """`catalog`: where the customer's screens keep what they read (none: always read)."""
        self.session = session
        self.catalog = catalog

    async def get(self, category_id: int) -> Category | None:
        return await self.session.get(Category, category_id)

    async def on_sale(self) -> list[tuple[CategoryView, int]]:
        """Categories with at least one product on sale, with how many, by name."""
        return await kept_in(self.catalog, ("categories on sale",), self._read_on_sale)

    async def _read_on_sale(self) -> list[tuple[CategoryView, int]]:
        rows = await self.session.execute(_CATEGORIES_ON_SALE)
        return [(CategoryView.of(category), total) for category, total in rows]

    async def all(self) -> list[tuple[Category, int]]:
        """Every category with its number of products (hidden ones included), by name."""
        statement = (
            select(Category, func.count(Product.id))
            .outerjoin(Product, (Product.category_id == Category.id) & _LISTED)
            .group_by(Category.id)
            .order_by(Category.name, Category.id)
        )
        return [(category, total) for category, total in await self.session.execute(statement)]

    async def name_taken(self, name: str, *, except_id: int | None = None) -> bool:
        """Case-insensitively, in Python: SQLite's lower() only folds ASCII."""
        statement = select(Category.name).where(Category.id != except_id)
        folded = name.casefold()
        return any(taken.casefold() == folded for taken in await self.session.scalars(statement))

    async def create(self, name: str) -> Category | None:
        """The new category, or None when the name is taken."""
        if await self.name_taken(name):
            return None
        category = Category(name=name)
        return category if await _saved(self.session, lambda: self.session.add(category)) else None

    async def rename(self, category: Category, name: str) -> bool:
        if await self.name_taken(name, except_id=category.id):
            return False
        return await _saved(self.session, lambda: setattr(category, "name", name))

    async def set_photo(self, category_id: int, photo: str | None) -> bool:
        """Its new photo (None: none); False if it is gone."""
        return await _photo_set(self.session, Category, category_id, photo)

    async def product_count(self, category_id: int) -> int:
        count = await self.session.scalar(
            select(func.count(Product.id)).where(Product.category_id == category_id, _LISTED)
        )
        return count or 0

    async def delete(self, category: Category) -> None:
        """Delete an empty category, and the deleted products nobody bought that were in it."""
        bought = select(Purchase.product_id).where(Purchase.product_id == Product.id).exists()
        await self.session.execute(
            delete(Product).where(
                Product.category_id == category.id, Product.deleted_at.is_not(None), ~bought
            )
        )
        await self.session.delete(category)
        await self.session.flush()


class ProductDAO:
    def __init__(self, session: AsyncSession, catalog: CatalogCache | None = None) -> None:
        """`catalog`: where the customer's screens keep what they read (none: always read)."""
        self.session = session
        self.catalog = catalog

    async def get(
        self, product_id: int, *, deleted_too: bool = False, lock: bool = False
    ) -> Product | None:
        """The product; a deleted one only with `deleted_too` (a late payment's). `lock`
        holds its row until the transaction ends (PostgreSQL; SQLite's transactions are one
        at a time already): a payment and a delete of one product then take turns."""
        product = await self.session.get(
            Product,
            product_id,
            options=[joinedload(Product.category)],
            with_for_update={"of": Product} if lock else None,
            populate_existing=lock,
        )
        if product is None or (product.deleted_at is not None and not deleted_too):
            return None
        return product

    async def on_sale(self, product_id: int) -> Product | None:
        product = await self.get(product_id)
        return product if product is not None and product.on_sale else None

    async def card(self, product_id: int) -> ProductView | None:
        """A product on sale with what its card shows (not its content: that is sent only
        to buyers), its reviews' summary read in the same statement; None when it is hidden,
        deleted or unknown."""

        async def read() -> ProductView | None:
            row = (await self.session.execute(_CARD, {"product_id": product_id})).first()
            return None if row is None else ProductView.of(row[0], summary_of(*row[1:]))

        return await kept_in(self.catalog, ("card", product_id), read)

    async def page_on_sale(self, category_id: int, number: int, size: int) -> Page[ProductView]:
        """Each product carries its category, loaded by the same query: a category page is
        one round trip (an empty page means a category gone or with nothing on sale)."""

        async def read() -> Page[ProductView]:
            page = await _PAGE_ON_SALE.page(self.session, number, size, category_id=category_id)
            items = tuple(ProductView.of(product) for product in page.items)
            return Page(items=items, number=number, size=size, total=page.total)

        return await kept_in(self.catalog, ("page", category_id, number, size), read)

    async def page_all(self, number: int, size: int) -> Page[Product]:
        statement = select(Product).where(_LISTED).order_by(Product.name, Product.id)
        return await fetch_page(self.session, statement, number, size)

    async def create(
        self,
        *,
        category_id: int,
        name: str,
        description: str,
        price: int,
        currency: str,
        file_id: str | None,
        hidden_content: str,
        photo: str | None = None,
        kind: str = KIND_UNLIMITED,
        form_token: str | None = None,
    ) -> Product:
        """The new product; if the form with this `form_token` was saved before (a double
        tap), the product that saving made, and nothing new."""
        statement = (
            dialect_insert(self.session)(Product)
            .values(
                category_id=category_id,
                name=name,
                description=description,
                price=price,
                currency=currency,
                file_id=file_id,
                photo=photo,
                hidden_content=hidden_content,
                kind=kind,
                on_sale=True,
                form_token=form_token,
            )
            .on_conflict_do_nothing(index_elements=[Product.form_token])
            .returning(Product.id)
        )
        new_id = (await self.session.execute(statement)).scalar_one_or_none()
        saved_before = select(Product.id).where(Product.form_token == form_token)
        product_id = new_id if new_id is not None else await self.session.scalar(saved_before)
        product = await self.get(product_id or 0, deleted_too=True)
        assert product is not None
        return product

    async def set_photo(self, product_id: int, photo: str | None) -> bool:
        """Its card's new photo (None: none); False if it is gone."""
        return await _photo_set(self.session, Product, product_id, photo)

    async def set_on_sale(self, product: Product, on_sale: bool) -> None:
        product.on_sale = on_sale
        await self.session.flush()

    async def purchase_count(self, product_id: int) -> int:
        count = await self.session.scalar(
            select(func.count(Purchase.id)).where(Purchase.product_id == product_id)
        )
        return count or 0

    async def delete(self, product: Product) -> None:
        """Take it out of the catalog and the admin's list; the row stays for late payments."""
        product.on_sale = False
        product.deleted_at = datetime.now(UTC)
        await self.session.flush()

    async def restore_hidden(self, product: Product) -> None:
        """A deleted product that was bought after all: listed again, hidden from the catalog."""
        product.on_sale = False
        product.deleted_at = None
        await self.session.flush()
