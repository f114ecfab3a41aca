"""The gateways' check, every CHECK_INTERVAL seconds: Crypto Pay invoices paid without a
webhook are taken through the one purchase path, and the orders not paid in time expire."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from aiogram import Bot
from loguru import logger

from bot.payments.gateway_orders import Gateways, Refused
from bot.shop.gateways import PROVIDER_CRYPTOPAY
from bot.shop.gateways.cryptopay import PAID, CryptoPayError
from bot.shop.intake import LOCK_WAIT
from bot.shop.orders import expire_orders
from bot.workers.every import Every

# How often unpaid Crypto Pay invoices are looked up and overdue orders expired.
CHECK_INTERVAL = 60.0
# An order expires this long after its time: a payment made at the last moment (a Crypto Pay
# invoice lives from a little after its order) has two checks to be seen first.
EXPIRY_GRACE = timedelta(seconds=2 * CHECK_INTERVAL)
# At most this many unpaid Crypto Pay orders are looked up in one check (oldest first).
_CHECK_BATCH = 1000


async def check_gateways(gateways: Gateways, bot: Bot) -> None:
    """Once: take the Crypto Pay invoices paid without a webhook, then expire what is
    overdue (Crypto Pay's orders only if their invoices could be looked at)."""
    providers = gateways.providers
    if gateways.cryptopay is not None:
        try:
            await _take_paid_invoices(gateways, bot)
        except CryptoPayError as error:
            logger.warning("could not look up unpaid Crypto Pay invoices: {}", error)
            providers.remove(PROVIDER_CRYPTOPAY)
    async with gateways.transactions(LOCK_WAIT) as shop:
        expired = await expire_orders(shop, providers, EXPIRY_GRACE)
    for order in expired:
        logger.info("order {} expired unpaid", order.order_id)


async def _take_paid_invoices(gateways: Gateways, bot: Bot) -> None:
    assert gateways.cryptopay is not None
    async with gateways.transactions(LOCK_WAIT) as shop:
        unpaid = await shop.orders.unpaid(PROVIDER_CRYPTOPAY, _CHECK_BATCH)
    if not unpaid:
        return
    invoices = await gateways.cryptopay.invoices([int(external) for _, external in unpaid])
    for invoice in invoices:
        if invoice.status != PAID:
            continue
        logger.warning(
            "Crypto Pay invoice {} is paid but its webhook has not come; taking it now",
            invoice.invoice_id,
        )
        try:
            await gateways.confirm_invoice(bot, invoice)
        except Refused as refusal:
            logger.error("Crypto Pay invoice {} not taken: {}", invoice.invoice_id, refusal)


class GatewayChecks:
    """`check_gateways` every `interval` seconds while the bot runs."""

    def __init__(self, gateways: Gateways, interval: float = CHECK_INTERVAL) -> None:
        self.gateways = gateways
        self._every = Every(interval, "the gateways' check failed")

    async def start(self, bot: Bot) -> None:
        """Startup hook."""
        self._every.start(partial(check_gateways, self.gateways, bot))

    async def stop(self) -> None:
        """Shutdown hook, before the gateways' client is closed."""
        await self._every.stop()
