"""Which language each update is handled in: the user's stored language (read once, then
cached), or, for someone the shop does not know yet, their client's language."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from contextlib import suppress
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from loguru import logger

from bot.i18n.languages import language_for
from bot.middlewares.database import current_update_transaction, works_apart
from bot.shop import Shop

# Users remembered per process, and for how long: a choice made with 🌐 on another instance
# (webhook behind a balancer) shows here within CACHE_SECONDS.
CACHE_SIZE = 10_000
CACHE_SECONDS = 60.0


class LanguageCache:
    """The languages of recent users, least recently used first out."""

    def __init__(self, size: int = CACHE_SIZE, seconds: float = CACHE_SECONDS) -> None:
        self.size = size
        self.seconds = seconds
        self._entries: OrderedDict[int, tuple[str, float]] = OrderedDict()

    def get(self, telegram_id: int) -> str | None:
        entry = self._entries.get(telegram_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        self._entries.move_to_end(telegram_id)
        return entry[0]

    def put(self, telegram_id: int, language: str) -> None:
        self._entries[telegram_id] = (language, time.monotonic() + self.seconds)
        self._entries.move_to_end(telegram_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class LanguageUnread(Exception):
    """The read of a user's language that this update waited for failed."""


class UserLanguageMiddleware(I18nMiddleware):
    """An update outer middleware: the language of the user behind the update is current
    while it is handled (`bot.i18n._` speaks it)."""

    def __init__(self, i18n: I18n, cache: LanguageCache) -> None:
        """Registered after the session middleware, whose `shop` it reads with."""
        super().__init__(i18n)
        self.cache = cache
        # A user's language being read: their other updates meanwhile wait for that read
        # (a backlog, a double tap) instead of each reading the same row.
        self._reading: dict[int, asyncio.Future[str | None]] = {}

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return self.i18n.default_locale
        language = self.cache.get(user.id)
        if language is not None:
            return language
        derived = language_for(user.language_code, self.i18n.default_locale)
        try:
            stored = await self._stored_once(event, data, user.id)
        except Exception as error:  # the database down: answer all the same (a payment too)
            logger.warning(
                "could not read the language of user {} ({}); answering in {}",
                user.id,
                type(error).__name__,
                derived,
            )
            return derived
        language = stored or derived
        self.cache.put(user.id, language)
        return language

    async def _stored_once(
        self, event: TelegramObject, data: dict[str, Any], user_id: int
    ) -> str | None:
        """`_stored`, read by one update of the user's at a time; the others share its result,
        or fail with it (then each answers in its client's language, as after a failed read)."""
        reading = self._reading.get(user_id)
        if reading is not None:
            return await asyncio.shield(reading)
        reading = self._reading[user_id] = asyncio.get_running_loop().create_future()
        try:
            stored = await self._stored(event, data, user_id)
        except BaseException:
            reading.set_exception(LanguageUnread(f"the language of user {user_id} went unread"))
            reading.exception()  # retrieved: no warning when no update waited for it
            raise
        else:
            reading.set_result(stored)
        finally:
            del self._reading[user_id]
        return stored

    async def _stored(
        self, event: TelegramObject, data: dict[str, Any], user_id: int
    ) -> str | None:
        """Read in the update's own transaction, which its handler goes on with (one
        connection for the update); one whose handler works in transactions of its own (a
        pre-checkout, a payment) is committed at once, holding no connection meanwhile."""
        update = current_update_transaction()
        if update is None:  # no database for this dispatcher
            return None
        shop: Shop = data["shop"]
        try:
            language = await shop.users.language_of(user_id)
            if works_apart(event):
                await update.commit()
        except Exception:
            with suppress(Exception):
                await update.session.rollback()
            raise
        return language
