"""Queries about reviews: one per purchase, written by its buyer, and what a card shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.dao.catalog_cache import CatalogCache, kept_in
from bot.dao.models import OUTBOX_GOODS, OUTBOX_PENDING, OutboxMessage, Product, Purchase, Review
from bot.dao.paging import Page, PagedSelect
from bot.dao.purchases import bought_by, kept
from bot.dao.routing import LATEST
from bot.dao.upsert import dialect_insert


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    """A product's shown reviews: how many, and their average rating (None when none)."""

    count: int
    average: float | None


@dataclass(frozen=True, slots=True)
class ShownReview:
    id: int
    rating: int
    text: str | None
    written_at: datetime  # when first written


@dataclass(frozen=True, slots=True)
class Reviewable:
    """A purchase its buyer may review, with their review so far (rating None: none yet)."""

    purchase_id: int
    product_id: int
    product_name: str
    rating: int | None
    text: str | None


def _shown() -> ColumnElement[bool]:
    """Not hidden by an admin, and its purchase not refunded."""
    return and_(Review.hidden_at.is_(None), kept())


def _goods_on_their_way() -> ColumnElement[bool]:
    """The purchase's goods still wait in the outbox: not delivered yet."""
    return exists().where(
        OutboxMessage.purchase_id == Purchase.id,
        OutboxMessage.kind == OUTBOX_GOODS,
        OutboxMessage.state == OUTBOX_PENDING,
    )


def _of_product(aggregate: ColumnElement[Any]) -> ScalarSelect[Any]:
    """`aggregate` over the shown reviews of the product of the query it is a column of."""
    return (
        select(aggregate)
        .join(Purchase, Purchase.id == Review.purchase_id)
        .where(Review.product_id == Product.id, _shown())
        .correlate(Product)
        .scalar_subquery()
    )


# A product's shown reviews, counted and averaged: columns of a query over products (the
# card's, bot.dao.catalog, which reads them with the product in one statement).
REVIEW_COUNT = _of_product(func.count(Review.id))
REVIEW_AVERAGE = _of_product(func.avg(Review.rating))
NO_REVIEWS = ReviewSummary(0, None)


def summary_of(count: int | None, average: Any) -> ReviewSummary:
    """The summary from REVIEW_COUNT's and REVIEW_AVERAGE's values."""
    if not count:
        return NO_REVIEWS
    return ReviewSummary(count, None if average is None else float(average))


# LATEST: what a card shows is read from the primary, and kept (as the card is).
_SUMMARY = (
    select(REVIEW_COUNT, REVIEW_AVERAGE)
    .where(Product.id == bindparam("product_id"))
    .execution_options(**{LATEST: True})
)
_PAGE = PagedSelect(
    select(Review)
    .join(Purchase, Purchase.id == Review.purchase_id)
    .where(Review.product_id == bindparam("product_id"), _shown())
    .order_by(Review.id.desc())
    .execution_options(**{LATEST: True})
)


class ReviewDAO:
    def __init__(self, session: AsyncSession, catalog: CatalogCache | None = None) -> None:
        """`catalog`: where the cards keep their summaries (none: always read)."""
        self.session = session
        self.catalog = catalog

    async def reviewable(self, telegram_id: int, purchase_id: int) -> Reviewable | None:
        """This buyer's purchase if they may review it: theirs, not refunded, and delivered
        (its goods no longer wait in the outbox); None otherwise."""
        statement = (
            select(Purchase.id, Purchase.product_id, Product.name, Review.rating, Review.text)
            .join(Product, Product.id == Purchase.product_id)
            .outerjoin(Review, Review.purchase_id == Purchase.id)
            .where(
                Purchase.id == purchase_id,
                bought_by(telegram_id),
                kept(),
                ~_goods_on_their_way(),
            )
        )
        row = (await self.session.execute(statement)).first()
        return None if row is None else Reviewable(*row)

    async def save(
        self, purchase_id: int, product_id: int, rating: int, text: str | None
    ) -> int | None:
        """Write the purchase's review (`text` None keeps the words it has). The new review's
        id when there was none, else None: the first of two concurrent writes inserts it,
        the other changes it, so a purchase never gets two."""
        inserted = (
            dialect_insert(self.session)(Review)
            .values(purchase_id=purchase_id, product_id=product_id, rating=rating, text=text)
            .on_conflict_do_nothing(index_elements=[Review.purchase_id])
            .returning(Review.id)
        )
        review_id = (await self.session.execute(inserted)).scalar_one_or_none()
        if review_id is not None:
            return review_id
        changes: dict[str, object] = {"rating": rating}
        if text is not None:
            changes["text"] = text
        await self.session.execute(
            update(Review)
            .where(Review.purchase_id == purchase_id)
            .values(changes)
            .execution_options(synchronize_session=False)
        )
        return None

    async def summary(self, product_id: int) -> ReviewSummary:
        async def read() -> ReviewSummary:
            row = (await self.session.execute(_SUMMARY, {"product_id": product_id})).first()
            return NO_REVIEWS if row is None else summary_of(*row)

        return await kept_in(self.catalog, ("reviews", product_id), read)

    async def page_of(self, product_id: int, number: int, size: int) -> Page[ShownReview]:
        """A product's shown reviews, newest first."""
        page = await _PAGE.page(self.session, number, size, product_id=product_id)
        items = [ShownReview(r.id, r.rating, r.text, r.created_at) for r in page.items]
        return Page(items=items, number=number, size=size, total=page.total)

    async def get(self, review_id: int) -> Review | None:
        """A review with its purchase's buyer and product loaded."""
        statement = (
            select(Review)
            .where(Review.id == review_id)
            .options(selectinload(Review.purchase).selectinload(Purchase.user))
            .options(selectinload(Review.purchase).selectinload(Purchase.product))
        )
        return await self.session.scalar(statement)

    async def of_purchase(self, purchase_id: int) -> Review | None:
        """As `get`, by its purchase."""
        found = await self.session.scalar(
            select(Review.id).where(Review.purchase_id == purchase_id)
        )
        return None if found is None else await self.get(found)

    async def set_hidden(self, review_id: int, when: datetime | None) -> bool:
        """Hide the review from `when` on, or show it again (None); False if it is unknown."""
        statement = (
            update(Review)
            .where(Review.id == review_id)
            .values(hidden_at=when)
            .returning(Review.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first() is not None
