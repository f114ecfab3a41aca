"""The shop's dispatcher: aiogram's, except that a payment is written to the payment journal
before anything else runs. aiogram's own middlewares come first otherwise (the FSM storage,
a Redis round trip), and Telegram has let go of the update by then: a stop or a crash in
between must not lose it.

In polling mode it polls only while this instance is the elected poller (bot/serving/polling.py),
and it remembers the last update it took, which the poller confirms as it steps down."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher, loggers
from aiogram.types import Update

from bot.serving.polling import Standby
from bot.serving.storage import StorageUnavailable
from bot.shop.intake import PaymentIntake
from bot.telegram.received import receipt_of


class ShopDispatcher(Dispatcher):
    taken_update_id: int | None = None  # the newest update fed to the handlers

    async def _polling(self, bot: Bot, *args: Any, **kwargs: Any) -> None:
        standby: Standby | None = self.workflow_data.get("poller_standby")
        if standby is None:  # one instance alone (an in-memory database)
            await super()._polling(bot, *args, **kwargs)
            return
        await standby.serve(
            bot,
            lambda: super(ShopDispatcher, self)._polling(bot, *args, **kwargs),
            lambda: self.taken_update_id,
        )

    async def _feed_webhook_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        """aiogram's, except that an update that met Redis down is no error to log with a
        traceback: bot.serving.storage has said so once, and the webhook answers it 503."""
        try:
            return await self.feed_update(bot, update, **kwargs)
        except StorageUnavailable:
            raise
        except Exception as error:
            loggers.event.exception(
                "Cause exception while process update id=%d by bot id=%d\n%s: %s",
                update.update_id,
                bot.id,
                type(error).__name__,
                error,
            )
            raise

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        if self.taken_update_id is None or update.update_id > self.taken_update_id:
            self.taken_update_id = update.update_id
        receipt = receipt_of(update.message, update.update_id)
        if receipt is None:
            return await super().feed_update(bot, update, **kwargs)
        payments: PaymentIntake = self.workflow_data["payments"]
        async with payments.handling(receipt):
            await payments.journal_first(receipt)
            return await super().feed_update(bot, update, **kwargs)
