"""Shop statistics over timezone-aware periods: today (since 00:00 UTC), 7 and 30 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Purchase, User


@dataclass(frozen=True)
class Periods:
    today: datetime
    week: datetime
    month: datetime

    @classmethod
    def ending(cls, now: datetime) -> Periods:
        if now.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        now = now.astimezone(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(today=midnight, week=now - timedelta(days=7), month=now - timedelta(days=30))


@dataclass(frozen=True)
class UserCounts:
    total: int
    today: int
    week: int
    month: int
    blocked: int  # have blocked the bot (a message to them was refused)


@dataclass(frozen=True)
class Revenue:
    currency: str
    provider: str
    purchases: int
    amount: int


class StatsDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def users(self, periods: Periods) -> UserCounts:
        statement = select(
            func.count(User.id),
            func.count(User.id).filter(User.created_at >= periods.today),
            func.count(User.id).filter(User.created_at >= periods.week),
            func.count(User.id).filter(User.created_at >= periods.month),
            func.count(User.id).filter(User.blocked_at.is_not(None)),
        )
        total, today, week, month, blocked = (await self.session.execute(statement)).one()
        return UserCounts(total=total, today=today, week=week, month=month, blocked=blocked)

    async def revenue(self, since: datetime | None = None) -> list[Revenue]:
        """Purchases and their sum per currency and provider, since `since` (None: all time);
        refunded purchases are not revenue."""
        statement = (
            select(
                Purchase.currency,
                Purchase.provider,
                func.count(Purchase.id),
                func.sum(Purchase.amount),
            )
            .where(Purchase.refunded_at.is_(None))
            .group_by(Purchase.currency, Purchase.provider)
            .order_by(Purchase.currency, Purchase.provider)
        )
        if since is not None:
            statement = statement.where(Purchase.created_at >= since)
        return [
            Revenue(currency=currency, provider=provider, purchases=count, amount=int(total))
            for currency, provider, count, total in await self.session.execute(statement)
        ]
