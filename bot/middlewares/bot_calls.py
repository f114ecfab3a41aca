"""A Bot API request middleware: the update's open transaction is committed before the bot
waits for Telegram, and, when strict (tests), any call made while the calling task still holds
a database transaction fails loudly."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.dao.open_transactions import held_by_current_task
from bot.middlewares.database import current_update_transaction


class TransactionAcrossBotCall(RuntimeError):
    """A Bot API call was about to wait on Telegram inside an open database transaction."""


class CommitBeforeBotCalls(BaseRequestMiddleware):
    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        update = current_update_transaction()
        if update is not None:
            await update.commit()
        if self.strict and held_by_current_task():
            raise TransactionAcrossBotCall(
                f"{method.__api_method__} called inside an open database transaction; "
                "commit before talking to Telegram"
            )
        return await make_request(bot, method)
