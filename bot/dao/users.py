"""Queries about users."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import User
from bot.dao.upsert import dialect_insert


class UserDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def register(
        self,
        telegram_id: int,
        *,
        username: str | None,
        first_name: str | None,
        last_name: str | None,
    ) -> User:
        """Insert the user or refresh their names; one statement, safe under concurrency."""
        values = {"username": username, "first_name": first_name, "last_name": last_name}
        statement = (
            dialect_insert(self.session)(User)
            .values(telegram_id=telegram_id, **values)
            .on_conflict_do_update(
                index_elements=[User.telegram_id], set_={**values, "updated_at": func.now()}
            )
            .returning(User.id)
        )
        user_id = (await self.session.execute(statement)).scalar_one()
        user = await self.session.get(User, user_id, populate_existing=True)
        assert user is not None
        return user

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        return await self.session.scalar(select(User).where(User.telegram_id == telegram_id))
