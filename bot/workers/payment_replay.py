"""The payment journal's replay: at start, and every REPLAY_INTERVAL seconds while the bot
runs, the journaled payments never delivered (a crash, the database down past the retry
window) are recorded and delivered; at shutdown, the payments in progress are let finish."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Dispatcher
from loguru import logger

from bot.config import Settings
from bot.errors import ConfigError
from bot.payments.outcomes import conclude
from bot.shop.intake import REPLAY_INTERVAL, Journaled, PaymentIntake
from bot.telegram.outbox import Outbox


async def replay_payment_journal(
    bot: Bot, settings: Settings, payments: PaymentIntake, outbox: Outbox, dispatcher: Dispatcher
) -> None:
    """Startup hook, after the migration: the journal must be writable (else exit 2); the
    payments it holds that were never delivered are recorded and delivered; then the same is
    done every REPLAY_INTERVAL seconds while the bot runs."""
    try:
        await asyncio.to_thread(payments.journal.check_writable)
    except OSError as error:
        raise ConfigError(
            f"the payment journal {payments.journal.path} cannot be written ({error}); set "
            "PAYMENTS_JOURNAL to a writable file on a persistent volume"
        ) from None
    await replay(bot, settings, payments, outbox, compact=True)
    dispatcher["payment_replay"] = asyncio.create_task(
        _replay_every(REPLAY_INTERVAL, bot, settings, payments, outbox)
    )


async def _replay_every(
    interval: float, bot: Bot, settings: Settings, payments: PaymentIntake, outbox: Outbox
) -> None:
    while True:
        await asyncio.sleep(interval)
        await replay(bot, settings, payments, outbox, compact=False)


async def replay(
    bot: Bot, settings: Settings, payments: PaymentIntake, outbox: Outbox, *, compact: bool
) -> None:
    """Record (if need be) and deliver every journaled payment not yet delivered, each on
    its own: one that fails stays in the journal for the next replay."""
    for item in await payments.pending(compact=compact):
        receipt = item.receipt
        logger.warning("delivering the journaled {}", receipt.describe())
        try:
            async with payments.handling(receipt):
                outcome = await payments.record(receipt)
                if not isinstance(outcome, Journaled):
                    await conclude(bot, settings, payments, outbox, receipt, outcome)
        except Exception as error:
            logger.error(
                "could not deliver the journaled {} ({}: {}); the journal keeps it",
                receipt.describe(),
                type(error).__name__,
                " ".join(str(error).split())[:300],
            )


async def finish_payments(
    settings: Settings, payments: PaymentIntake, dispatcher: Dispatcher
) -> None:
    """Shutdown hook: no more replays; let the payments in progress finish, up to
    SHUTDOWN_TIMEOUT."""
    replaying: asyncio.Task[None] | None = dispatcher.workflow_data.get("payment_replay")
    if replaying is not None:
        replaying.cancel()
    await payments.drain(settings.shutdown_timeout)
