"""Queries about users."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import User
from bot.dao.upsert import dialect_insert

# How finely a user's last visit is kept: no write for every update.
SEEN_GRAIN = timedelta(hours=1)
# Read on a visitor's first update (their language) and at every /start: built once.
_USER = (
    select(User)
    .where(User.telegram_id == bindparam("telegram_id"))
    .execution_options(populate_existing=True)
)


class UserDAO:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # A user read for their language, kept for this session's `register`: an update's
        # language is read before its handler runs, and a /start would read the row twice.
        self._read_for_register: dict[int, User | None] = {}

    async def register(
        self,
        telegram_id: int,
        *,
        username: str | None,
        first_name: str | None,
        last_name: str | None,
        language: str | None = None,
    ) -> User:
        """Insert the user or refresh their names (one upsert, safe under concurrency).
        `language` is stored only if they have none yet (a choice made with 🌐 stays).
        A user stored as they are is only read: most updates come from people the shop
        knows, and a write would cost a commit to disk (and SQLite's one writer) for nothing.
        Skipping it is safe under concurrency too: a change committed after our read wins,
        as it would over our identical write."""
        if telegram_id in self._read_for_register:
            stored = self._read_for_register.pop(telegram_id)
        else:
            stored = await self.by_telegram_id(telegram_id)
        if stored is not None and (
            (stored.username, stored.first_name, stored.last_name)
            == (username, first_name, last_name)
            and (stored.language is not None or language is None)
            and stored.blocked_at is None
        ):
            return stored
        # Registering again means they started the bot: they no longer block it.
        values = {
            "username": username,
            "first_name": first_name,
            "last_name": last_name,
            "blocked_at": None,
        }
        insert = dialect_insert(self.session)(User).values(
            telegram_id=telegram_id, language=language, **values
        )
        statement = insert.on_conflict_do_update(
            index_elements=[User.telegram_id],
            set_={
                **values,
                "language": func.coalesce(User.language, insert.excluded.language),
                "updated_at": func.now(),
            },
        ).returning(User.id)
        user_id = (await self.session.execute(statement)).scalar_one()
        user = await self.session.get(User, user_id, populate_existing=True)
        assert user is not None
        return user

    async def language_of(self, telegram_id: int) -> str | None:
        """Their stored language; None for someone unknown or from before languages."""
        stored = self._read_for_register[telegram_id] = await self.by_telegram_id(telegram_id)
        return None if stored is None else stored.language

    async def languages_of(self, telegram_ids: Iterable[int]) -> dict[int, str]:
        """The stored languages of these users (those with none are left out)."""
        statement = select(User.telegram_id, User.language).where(
            User.telegram_id.in_(list(telegram_ids)), User.language.is_not(None)
        )
        found: dict[int, str] = {}
        for telegram_id, language in await self.session.execute(statement):
            if language is not None:
                found[telegram_id] = language
        return found

    async def set_language(self, telegram_id: int, language: str) -> bool:
        """Their choice from 🌐; False if they are not registered."""
        statement = (
            update(User)
            .where(User.telegram_id == telegram_id)
            .values(language=language, updated_at=func.now())
            .returning(User.id)
            .execution_options(synchronize_session=False)
        )
        self._read_for_register.pop(telegram_id, None)
        return (await self.session.execute(statement)).first() is not None

    async def mark_blocked(self, telegram_ids: Iterable[int], when: datetime) -> None:
        """These users refused a message because they blocked the bot."""
        statement = (
            update(User)
            .where(User.telegram_id.in_(list(telegram_ids)), User.blocked_at.is_(None))
            .values(blocked_at=when)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(statement)

    async def seen(self, telegram_ids: Iterable[int], when: datetime) -> None:
        """These users used the bot at `when`; a visit within the hour before is not
        written again."""
        statement = (
            update(User)
            .where(
                User.telegram_id.in_(list(telegram_ids)),
                or_(User.last_seen_at.is_(None), User.last_seen_at < when - SEEN_GRAIN),
            )
            .values(last_seen_at=when)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(statement)

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        """The stored user, as the database has them now (refreshed if already loaded)."""
        return await self.session.scalar(_USER, {"telegram_id": telegram_id})
