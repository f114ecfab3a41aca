"""Queries about purchases: recording a payment exactly once, and what a buyer owns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.dao.models import Purchase, User
from bot.dao.paging import Page, fetch_page
from bot.dao.upsert import dialect_insert


@dataclass(frozen=True)
class Spending:
    purchases: int
    totals: dict[str, int]  # currency -> amount in minor units


def bought_by(telegram_id: int) -> ColumnElement[bool]:
    buyer = select(User.id).where(User.telegram_id == telegram_id).scalar_subquery()
    return Purchase.user_id == buyer


def kept() -> ColumnElement[bool]:
    """Not refunded: the purchase still counts and still delivers."""
    return Purchase.refunded_at.is_(None)


class PurchaseDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        *,
        user_id: int,
        product_id: int,
        amount: int,
        currency: str,
        provider: str,
        charge_id: str,
        provider_charge_id: str | None,
    ) -> int | None:
        """The new purchase's id, or None if this charge id is already recorded.

        One INSERT ... ON CONFLICT DO NOTHING: a concurrent duplicate waits for the first
        transaction and then inserts nothing, so only one caller ever gets an id back.
        """
        statement = (
            dialect_insert(self.session)(Purchase)
            .values(
                user_id=user_id,
                product_id=product_id,
                amount=amount,
                currency=currency,
                provider=provider,
                charge_id=charge_id,
                provider_charge_id=provider_charge_id or None,
            )
            .on_conflict_do_nothing(index_elements=[Purchase.charge_id])
            .returning(Purchase.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def forget(self, purchase_id: int) -> None:
        """Delete a purchase recorded in this transaction that could not be fulfilled."""
        await self.session.execute(delete(Purchase).where(Purchase.id == purchase_id))

    async def of_charge(self, charge_id: str) -> tuple[int, int] | None:
        """The purchase a charge recorded: (purchase id, product id), or None."""
        statement = select(Purchase.id, Purchase.product_id).where(Purchase.charge_id == charge_id)
        row = (await self.session.execute(statement)).first()
        return (row.id, row.product_id) if row is not None else None

    async def ids_of(self, telegram_id: int, product_id: int) -> list[int]:
        """This buyer's kept (not refunded) purchases of this product, oldest first."""
        statement = select(Purchase.id).where(
            bought_by(telegram_id), Purchase.product_id == product_id, kept()
        )
        return list(await self.session.scalars(statement.order_by(Purchase.id)))

    async def owns(self, telegram_id: int, product_id: int) -> bool:
        statement = select(Purchase.id).where(
            bought_by(telegram_id), Purchase.product_id == product_id, kept()
        )
        return await self.session.scalar(statement.limit(1)) is not None

    async def page_of(self, telegram_id: int, number: int, size: int) -> Page[Purchase]:
        """A buyer's purchases, newest first, with their products loaded."""
        statement = (
            select(Purchase)
            .where(bought_by(telegram_id))
            .options(selectinload(Purchase.product))
            .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        )
        return await fetch_page(self.session, statement, number, size)

    async def count_of(self, telegram_id: int) -> int:
        """How many purchases this buyer has, refunded ones included."""
        statement = select(func.count(Purchase.id)).where(bought_by(telegram_id))
        return int(await self.session.scalar(statement) or 0)

    async def spending_of(self, telegram_id: int) -> Spending:
        statement = (
            select(Purchase.currency, func.count(Purchase.id), func.sum(Purchase.amount))
            .where(bought_by(telegram_id), kept())
            .group_by(Purchase.currency)
            .order_by(Purchase.currency)
        )
        rows = (await self.session.execute(statement)).all()
        return Spending(
            purchases=sum(count for _, count, _ in rows),
            totals={currency: int(total) for currency, _, total in rows},
        )

    async def get(self, purchase_id: int) -> Purchase | None:
        """A purchase with its buyer and product loaded."""
        statement = (
            select(Purchase)
            .where(Purchase.id == purchase_id)
            .options(selectinload(Purchase.user), selectinload(Purchase.product))
        )
        return await self.session.scalar(statement)

    async def _mark_refunded(self, when: datetime, *where: ColumnElement[bool]) -> int | None:
        """Mark the one purchase `where` picks as refunded; its id, or None if it is unknown
        or already refunded. One conditional UPDATE, so of two concurrent marks one wins."""
        statement = (
            update(Purchase).where(*where, kept()).values(refunded_at=when).returning(Purchase.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def refund(self, purchase_id: int, when: datetime) -> bool:
        """Mark this purchase refunded; False if it is unknown or already refunded."""
        return await self._mark_refunded(when, Purchase.id == purchase_id) is not None

    async def refund_charge(self, charge_id: str, when: datetime) -> int | None:
        """Mark the purchase of this charge refunded; its id, or None if there is none to
        mark (unknown charge, or already refunded)."""
        return await self._mark_refunded(when, Purchase.charge_id == charge_id)
