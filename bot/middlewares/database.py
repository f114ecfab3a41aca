"""One database session per update: committed when the handler succeeds, rolled back if not.

Handlers see the session only through `shop` (the `Shop` that `shop_factory` builds on it)
and never commit. What must happen only once the data is durable (delivering a paid product,
telling the admins) goes to `after_commit`, which runs after the commit and never after a
rollback: a failed delivery cannot undo a recorded payment, and a payment that failed to
record is never delivered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.shop.services import Shop

AfterCommitAction = Callable[[], Awaitable[object]]
ShopFactory = Callable[[AsyncSession], Shop]


class AfterCommit:
    """Actions a handler queues to run once its transaction has committed."""

    def __init__(self) -> None:
        self._actions: list[AfterCommitAction] = []

    def __call__(self, action: AfterCommitAction) -> None:
        self._actions.append(action)

    async def run(self) -> None:
        for action in self._actions:
            try:
                await action()
            except Exception:
                logger.exception("an action after the commit failed; the data is saved")


class DatabaseSessionMiddleware(BaseMiddleware):
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        shop_factory: ShopFactory = Shop.on,
    ) -> None:
        self.session_factory = session_factory
        self.shop_factory = shop_factory

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        after_commit = AfterCommit()
        async with self.session_factory() as session, session.begin():
            data["shop"] = self.shop_factory(session)
            data["after_commit"] = after_commit
            result = await handler(event, data)
        await after_commit.run()
        return result
