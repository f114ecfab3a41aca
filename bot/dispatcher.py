"""The shop's dispatcher: aiogram's, except that a payment is written to the payment journal
before anything else runs. aiogram's own middlewares come first otherwise (the FSM storage,
a Redis round trip), and Telegram has let go of the update by then: a stop or a crash in
between must not lose it."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bot.handlers.payments import receipt_of
from bot.shop.intake import PaymentIntake


class ShopDispatcher(Dispatcher):
    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        receipt = receipt_of(update.message, update.update_id)
        if receipt is None:
            return await super().feed_update(bot, update, **kwargs)
        payments: PaymentIntake = self.workflow_data["payments"]
        async with payments.handling(receipt):
            await payments.journal_first(receipt)
            return await super().feed_update(bot, update, **kwargs)
