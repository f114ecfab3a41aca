"""Queries about gateway orders: opening one, its gateway's id, paying and expiring it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.dao.models import ORDER_CREATED, ORDER_EXPIRED, ORDER_PAID, Order, User


@dataclass(frozen=True)
class ExpiredOrder:
    order_id: int
    product_id: int
    telegram_id: int  # the buyer, for whom a unit may be reserved


class OrderDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open(
        self,
        *,
        provider: str,
        user_id: int,
        product_id: int,
        amount: int,
        currency: str,
        expires_at: datetime,
        promo_code_id: int | None,
    ) -> Order:
        """A new order; its id comes from the database (the invoice number)."""
        order = Order(
            provider=provider,
            user_id=user_id,
            product_id=product_id,
            amount=amount,
            currency=currency,
            expires_at=expires_at,
            promo_code_id=promo_code_id,
        )
        self.session.add(order)
        await self.session.flush()
        return order

    async def set_external(
        self, order_id: int, external_id: str, pay_url: str | None = None
    ) -> None:
        statement = (
            update(Order)
            .where(Order.id == order_id)
            .values(external_id=external_id, pay_url=pay_url, updated_at=func.now())
        )
        await self.session.execute(statement)

    async def expire_now(self, order_id: int) -> None:
        """Expire this order if it is still unpaid."""
        statement = (
            update(Order)
            .where(Order.id == order_id, Order.state == ORDER_CREATED)
            .values(state=ORDER_EXPIRED, updated_at=func.now())
        )
        await self.session.execute(statement)

    async def get(self, order_id: int) -> Order | None:
        """An order with its buyer, product and purchase loaded."""
        statement = (
            select(Order)
            .where(Order.id == order_id)
            .options(
                selectinload(Order.user),
                selectinload(Order.product),
                selectinload(Order.purchase),
            )
        )
        return await self.session.scalar(statement)

    async def of_external(self, provider: str, external_id: str) -> Order | None:
        """The order a gateway's id names, with its buyer and product loaded."""
        statement = (
            select(Order)
            .where(Order.provider == provider, Order.external_id == external_id)
            .options(selectinload(Order.user), selectinload(Order.product))
        )
        return await self.session.scalar(statement)

    async def mark_paid(
        self, provider: str, external_id: str, purchase_id: int, when: datetime
    ) -> int | None:
        """The order of this gateway id is paid by this purchase; its id, or None if there is
        none unpaid (one conditional UPDATE: two concurrent marks, one wins). An expired
        order is paid all the same: the money moved."""
        statement = (
            update(Order)
            .where(
                Order.provider == provider,
                Order.external_id == external_id,
                Order.state.in_([ORDER_CREATED, ORDER_EXPIRED]),
            )
            .values(state=ORDER_PAID, purchase_id=purchase_id, paid_at=when, updated_at=func.now())
            .returning(Order.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def expire_due(self, now: datetime, providers: Sequence[str]) -> list[ExpiredOrder]:
        """Mark these providers' unpaid orders past their time expired; which."""
        statement = (
            update(Order)
            .where(
                Order.state == ORDER_CREATED,
                Order.expires_at < now,
                Order.provider.in_(list(providers)),
            )
            .values(state=ORDER_EXPIRED, updated_at=func.now())
            .returning(Order.id, Order.product_id, Order.user_id)
            .execution_options(synchronize_session=False)
        )
        rows = (await self.session.execute(statement)).all()
        if not rows:
            return []
        user_ids = {row.user_id for row in rows}
        found = await self.session.execute(
            select(User.id, User.telegram_id).where(User.id.in_(user_ids))
        )
        buyers = {user_id: telegram_id for user_id, telegram_id in found}
        return [ExpiredOrder(row.id, row.product_id, buyers[row.user_id]) for row in rows]

    async def unpaid(self, provider: str, limit: int) -> list[tuple[int, str]]:
        """(order id, gateway id) of this provider's orders awaiting payment (those past
        their time too, until they are expired), oldest first."""
        statement = (
            select(Order.id, Order.external_id)
            .where(
                Order.provider == provider,
                Order.state == ORDER_CREATED,
                Order.external_id.is_not(None),
            )
            .order_by(Order.id)
            .limit(limit)
        )
        rows = await self.session.execute(statement)
        return [(order_id, str(external)) for order_id, external in rows]
