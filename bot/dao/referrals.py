"""Queries about referrals: who invited whom, written once."""

from __future__ import annotations

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Referral, User
from bot.dao.upsert import dialect_insert


class ReferralDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tie(self, invited_id: int, inviter_telegram_id: int) -> bool:
        """Record that the inviter (by Telegram id) invited this user; False when the inviter
        is unknown or is the user, or the user was invited already (one INSERT … SELECT)."""
        inviter = (
            select(literal(invited_id), User.id)
            .where(User.telegram_id == inviter_telegram_id, User.id != invited_id)
            .limit(1)
        )
        statement = (
            dialect_insert(self.session)(Referral)
            .from_select(["invited_id", "inviter_id"], inviter)
            .on_conflict_do_nothing(index_elements=[Referral.invited_id])
            .returning(Referral.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def inviter_of(self, telegram_id: int) -> User | None:
        """Who invited this user (by Telegram id), if anyone. Their tie stays locked until
        the transaction ends (PostgreSQL; SQLite has one writer at a time): two first
        purchases at once take turns, and the second sees the first."""
        invited = select(User.id).where(User.telegram_id == telegram_id).scalar_subquery()
        statement = (
            select(User)
            .join(Referral, Referral.inviter_id == User.id)
            .where(Referral.invited_id == invited)
            .with_for_update(of=Referral)
        )
        return await self.session.scalar(statement)

    async def invited_by(self, telegram_id: int) -> int:
        """How many users this one (by Telegram id) invited."""
        inviter = select(User.id).where(User.telegram_id == telegram_id).scalar_subquery()
        statement = select(func.count(Referral.id)).where(Referral.inviter_id == inviter)
        return int(await self.session.scalar(statement) or 0)
