"""Customers waiting for a sold-out stock product to come back: one row per product and
customer, taken (deleted) when they are told."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import RestockSubscription
from bot.dao.upsert import dialect_insert


def _row(product_id: int, telegram_id: int) -> ColumnElement[bool]:
    return and_(
        RestockSubscription.product_id == product_id,
        RestockSubscription.telegram_id == telegram_id,
    )


class RestockDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def subscribe(self, product_id: int, telegram_id: int) -> bool:
        """Wait for the product; False if this customer already waits for it."""
        statement = (
            dialect_insert(self.session)(RestockSubscription)
            .values(product_id=product_id, telegram_id=telegram_id)
            .on_conflict_do_nothing(
                index_elements=[RestockSubscription.product_id, RestockSubscription.telegram_id]
            )
            .returning(RestockSubscription.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def unsubscribe(self, product_id: int, telegram_id: int) -> bool:
        """Stop waiting; False if this customer did not wait for it."""
        statement = (
            delete(RestockSubscription)
            .where(_row(product_id, telegram_id))
            .returning(RestockSubscription.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def is_subscribed(self, product_id: int, telegram_id: int) -> bool:
        statement = select(RestockSubscription.id).where(_row(product_id, telegram_id))
        return (await self.session.execute(statement)).first() is not None

    async def waiting(self, product_id: int) -> int:
        """How many customers wait for the product."""
        statement = select(func.count(RestockSubscription.id)).where(
            RestockSubscription.product_id == product_id
        )
        return int(await self.session.scalar(statement) or 0)

    async def take_all(self, product_id: int) -> list[int]:
        """Everyone waiting for the product (their Telegram ids), who then no longer wait."""
        statement = (
            delete(RestockSubscription)
            .where(RestockSubscription.product_id == product_id)
            .returning(RestockSubscription.telegram_id)
        )
        return sorted((await self.session.scalars(statement)).all())
