"""One database session per update, whose transactions never wait on Telegram.

Handlers see the session only through `shop` (the `Shop` that `shop_factory` builds on it)
and never commit. The update's open transaction is committed when the handler ends and also
before every Bot API call the handler makes (`bot.middlewares.bot_calls`): what a screen says
was done is durable before it is said, and no lock is held across Telegram's latency. A later
database read or write begins a new transaction, committed the same way; an error rolls back
only what was not committed yet.

What must happen only once the data is durable (delivering a paid product, telling the
admins) goes to `after_commit`: it runs when the update ends, and only if the transaction it
was queued in committed; never after a rollback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.types import TelegramObject, Update, User
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.dao.database import serving_session_factory
from bot.dao.routing import ROUTE, ReadRouting
from bot.shop.intake import ShopTransactions
from bot.shop.services import Shop

AfterCommitAction = Callable[[], Awaitable[object]]
ShopFactory = Callable[[AsyncSession], Shop]


class AfterCommit:
    """Actions a handler queues to run once what it wrote so far has committed."""

    def __init__(self) -> None:
        self._pending: list[AfterCommitAction] = []
        self._due: list[AfterCommitAction] = []

    def __call__(self, action: AfterCommitAction) -> None:
        self._pending.append(action)

    def committed(self) -> None:
        self._due.extend(self._pending)
        self._pending.clear()

    async def run(self) -> None:
        """Run the actions whose transaction committed; those of a rolled back one never run."""
        due, self._due = self._due, []
        for action in due:
            try:
                await action()
            except Exception:
                logger.exception("an action after the commit failed; the data is saved")


class UpdateTransaction:
    """The update's session and the actions waiting for its commit."""

    def __init__(self, session: AsyncSession, after_commit: AfterCommit) -> None:
        self.session = session
        self.after_commit = after_commit

    async def commit(self) -> None:
        if self.session.in_transaction():
            await self.session.commit()
        self.after_commit.committed()


_current_update: ContextVar[UpdateTransaction | None] = ContextVar(
    "current_update_transaction", default=None
)


def current_update_transaction() -> UpdateTransaction | None:
    """The transaction of the update the calling task is handling, if any."""
    return _current_update.get()


def shop_transactions(engine: AsyncEngine, shop_factory: ShopFactory = Shop.on) -> ShopTransactions:
    """`async with transaction(lock_wait) as shop:` one transaction of its own, committed at
    the end, that waits at most `lock_wait` seconds for a lock."""

    @asynccontextmanager
    async def transaction(lock_wait: float) -> AsyncIterator[Shop]:
        session_factory = serving_session_factory(engine, lock_wait=lock_wait)
        async with session_factory() as session, session.begin():
            yield shop_factory(session)

    return transaction


class DatabaseSessionMiddleware(BaseMiddleware):
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        shop_factory: ShopFactory = Shop.on,
        bot_calls: BaseRequestMiddleware | None = None,
        reads: ReadRouting | None = None,
    ) -> None:
        """`bot_calls` joins the request middlewares of the session of every bot this
        dispatcher serves: it commits before each Bot API call. With `reads`, an update's
        reads go where it routes them until its session writes (`session_factory` must make
        `RoutedSession`s)."""
        self.session_factory = session_factory
        self.shop_factory = shop_factory
        self.bot_calls = bot_calls
        self.reads = reads

    def _watch_bot_calls(self, bot: Bot | None) -> None:
        # Done here, not where the Bot is built: tests and benchmarks swap the bot's session.
        calls = self.bot_calls
        if bot is not None and calls is not None and calls not in bot.session.middleware:
            bot.session.middleware(calls)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        self._watch_bot_calls(data.get("bot"))
        after_commit = AfterCommit()
        user: User | None = data.get("event_from_user")
        user_id = None if user is None else user.id
        route = None if self.reads is None else self.reads.route(user_id)
        try:
            async with self.session_factory(info={ROUTE: route} if route else {}) as session:
                update = UpdateTransaction(session, after_commit)
                token = _current_update.set(update)
                try:
                    data["shop"] = self.shop_factory(session)
                    data["after_commit"] = after_commit
                    result = await handler(event, data)
                    await update.commit()
                finally:  # closing the session rolls back what was not committed
                    _current_update.reset(token)
        finally:
            wrote = route is not None and (route.on_primary or works_apart(event))
            if wrote and self.reads is not None and user_id is not None:
                self.reads.wrote(user_id)  # their next reads must see it
            await after_commit.run()
        return result


def works_apart(update: TelegramObject) -> bool:
    """An update whose handler works in transactions of its own (a pre-checkout, a payment),
    not in the update's session."""
    if not isinstance(update, Update):
        return True
    message = update.message
    return update.pre_checkout_query is not None or (
        message is not None and message.successful_payment is not None
    )
