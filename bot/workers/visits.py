"""When users last used the bot (`users.last_seen_at`, what "active in the last N days"
reads): noted in memory as updates arrive, written every WRITE_EVERY seconds in one
transaction of its own, off the updates' path (a read-only update stays read-only, on a
replica too). A crash forgets at most that long of visits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User
from loguru import logger

from bot.shop.intake import LOCK_WAIT, ShopTransactions
from bot.shop.stock import now
from bot.workers.every import Every

WRITE_EVERY = 60.0
CHUNK = 500  # users per statement


class Visits(BaseMiddleware):
    """An update outer middleware that notes who sent each update, and the worker that
    writes it down."""

    def __init__(self, transactions: ShopTransactions) -> None:
        self.transactions = transactions
        self._seen: set[int] = set()
        self._every = Every(WRITE_EVERY, "could not write when users were last seen")

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and not user.is_bot:
            self._seen.add(user.id)
        return await handler(event, data)

    async def write(self) -> None:
        """Write the visits noted so far; kept for the next time if it fails."""
        seen, self._seen = self._seen, set()
        moment = now()
        try:
            async with self.transactions(LOCK_WAIT) as shop:
                ids = iter(seen)
                while chunk := list(islice(ids, CHUNK)):
                    await shop.users.seen(chunk, moment)
        except Exception as error:
            self._seen |= seen
            logger.warning("could not write when users were last seen ({})", error)

    async def start(self) -> None:
        """Startup hook."""
        self._every.start(self.write)

    async def stop(self) -> None:
        """Shutdown hook: the last visits are written too."""
        await self._every.stop()
        await self.write()
