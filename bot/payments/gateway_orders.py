"""What the gateways do for the bot: open an order (and its invoice), and take a confirmed
payment (a callback, or a paid invoice the check finds: bot.workers.gateway_checks) through
the one purchase path.

No database transaction stays open across a network call: an order is committed before its
Crypto Pay invoice is asked for, and the invoice's id is written in a transaction of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot
from loguru import logger

from bot.config import Settings
from bot.dao.models import Order
from bot.payments.outcomes import conclude
from bot.shop import Shop
from bot.shop.customers import Customer
from bot.shop.gateways import PROVIDER_CRYPTOPAY, PROVIDER_ROBOKASSA
from bot.shop.gateways.cryptopay import PAID, CryptoInvoice, CryptoPayClient, CryptoPayError
from bot.shop.gateways.robokassa import Notice, Robokassa, RobokassaRefused
from bot.shop.intake import LOCK_WAIT, IntakeOutcome, PaymentIntake, Unsaved
from bot.shop.money import logged_amount
from bot.shop.orders import (
    NotOnSale,
    NoUnitLeft,
    Offer,
    OpenedOrder,
    PromoRefused,
    Unavailable,
    abandon_order,
    open_order,
    order_receipt,
)
from bot.shop.purchases import Receipt
from bot.telegram.outbox import Outbox


class Refused(Exception):
    """A callback that is not taken (400): why, for the log (never a secret)."""


@dataclass(frozen=True)
class BuyerNotice:
    """Whom to tell what about an order from a Success or Fail page, in their language."""

    order_id: int
    telegram_id: int
    language: str | None
    paid: bool


class Gateways:
    def __init__(
        self,
        settings: Settings,
        payments: PaymentIntake,
        outbox: Outbox,
        robokassa: Robokassa | None,
        cryptopay: CryptoPayClient | None,
    ) -> None:
        self.settings = settings
        self.payments = payments
        self.transactions = payments.transactions
        self.outbox = outbox
        self.robokassa = robokassa
        self.cryptopay = cryptopay
        self.accepting = True  # False once stopping: callbacks get 503 and come again

    @classmethod
    def build(cls, settings: Settings, payments: PaymentIntake, outbox: Outbox) -> Gateways | None:
        """The gateways set up, or None when there are none."""
        if not settings.gateways_enabled:
            return None
        return cls(
            settings,
            payments,
            outbox,
            Robokassa.from_settings(settings),
            CryptoPayClient.from_settings(settings),
        )

    @property
    def providers(self) -> list[str]:
        found = [PROVIDER_ROBOKASSA] if self.robokassa is not None else []
        return found + ([PROVIDER_CRYPTOPAY] if self.cryptopay is not None else [])

    @property
    def lifetime(self) -> timedelta:
        return timedelta(minutes=self.settings.gateway_order_minutes)

    # Opening orders

    async def open(
        self, provider: str, product_id: int, buyer: Customer, promo_code_id: int | None = None
    ) -> Offer | NotOnSale | NoUnitLeft | PromoRefused | Unavailable:
        async with self.transactions(LOCK_WAIT) as shop:
            opened = await open_order(
                shop, provider, product_id, buyer, self.lifetime, promo_code_id
            )
        if not isinstance(opened, OpenedOrder):
            return opened
        logger.info(
            "order {} ({}): product {} for {} by user {}",
            opened.order_id,
            provider,
            opened.product_id,
            logged_amount(opened.amount, opened.currency),
            buyer.telegram_id,
        )
        # Merchant content, shown by the gateway as it is: the order's number and product.
        description = f"#{opened.order_id} {opened.product_name}"
        if provider == PROVIDER_ROBOKASSA and self.robokassa is not None:
            url = self.robokassa.payment_url(
                opened.order_id,
                opened.amount,
                opened.currency,
                description,
                shp={"Shp_product": str(opened.product_id), "Shp_user": str(buyer.telegram_id)},
            )
            return Offer(opened, provider, url)
        assert self.cryptopay is not None  # the handler offers only the gateways set up
        return await self._crypto_invoice(opened, buyer, description)

    async def _crypto_invoice(
        self, opened: OpenedOrder, buyer: Customer, description: str
    ) -> Offer | Unavailable:
        assert self.cryptopay is not None
        try:
            invoice = await self.cryptopay.create_invoice(
                amount=opened.amount,
                currency=opened.currency,
                description=description,
                payload=str(opened.order_id),
                expires_in=int(self.lifetime.total_seconds()),
            )
            if invoice.pay_url is None:
                raise CryptoPayError("createInvoice: the invoice has no payment link")
        except CryptoPayError as error:
            logger.warning("order {}: no Crypto Pay invoice ({})", opened.order_id, error)
            async with self.transactions(LOCK_WAIT) as shop:
                await abandon_order(shop, opened, buyer.telegram_id)
            return Unavailable()
        # Should this fail, the invoice's payload still names the order (`_crypto_order`).
        async with self.transactions(LOCK_WAIT) as shop:
            await shop.orders.set_external(
                opened.order_id, str(invoice.invoice_id), invoice.pay_url
            )
        return Offer(opened, PROVIDER_CRYPTOPAY, invoice.pay_url)

    # Taking confirmed payments

    async def take(self, bot: Bot, receipt: Receipt) -> IntakeOutcome:
        """The one purchase path: journal, record once, deliver through the outbox, tell the
        admins. Unsaved: neither the journal nor the database has it; the gateway must call
        again."""
        async with self.payments.handling(receipt):
            outcome = await self.payments.receive(receipt)
            await conclude(bot, self.settings, self.payments, self.outbox, receipt, outcome)
        return outcome

    async def robokassa_result(self, bot: Bot, params: dict[str, str]) -> int:
        """A Result URL notification taken (or taken before); its InvId. Refused: a wrong
        signature, an unknown order, another sum; nothing is recorded then."""
        notice = self._verified(params, result=True)
        async with self.transactions(LOCK_WAIT) as shop:
            order = await shop.orders.of_external(PROVIDER_ROBOKASSA, str(notice.inv_id))
            receipt = _robokassa_receipt(order, notice)
        if isinstance(await self.take(bot, receipt), Unsaved):
            raise OSError("neither the journal nor the database took the payment")
        return notice.inv_id

    async def robokassa_return(self, params: dict[str, str], *, success: bool) -> BuyerNotice:
        """The order a buyer came back from Robokassa with: Success is signed (password #1);
        Fail is not, so it only says the payment was not completed."""
        if success:
            inv_id = self._verified(params, result=False).inv_id
        else:
            inv_id = _number(params.get("InvId", ""))
        async with self.transactions(LOCK_WAIT) as shop:
            order = await shop.orders.of_external(PROVIDER_ROBOKASSA, str(inv_id))
            if order is None:
                raise Refused(f"unknown order {inv_id}")
            telegram_id = order.user.telegram_id
            return BuyerNotice(
                order_id=order.id,
                telegram_id=telegram_id,
                language=await shop.users.language_of(telegram_id),
                paid=order.purchase_id is not None,
            )

    def _verified(self, params: dict[str, str], *, result: bool) -> Notice:
        assert self.robokassa is not None
        try:
            return self.robokassa.verify(params, result=result)
        except RobokassaRefused as refusal:
            raise Refused(str(refusal)) from None

    async def cryptopay_webhook(self, bot: Bot, body: bytes, signature: str) -> None:
        """A webhook update taken; Refused when it is not signed with our token or names no
        order of ours (or another sum)."""
        assert self.cryptopay is not None
        if not self.cryptopay.signed(body, signature):
            raise Refused("the signature does not match")
        try:
            update = json.loads(body)
            if update.get("update_type") != "invoice_paid":
                logger.info("Crypto Pay: ignored a {} update", update.get("update_type"))
                return
            invoice = CryptoInvoice.from_api(update["payload"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise Refused(f"not an invoice_paid update ({type(error).__name__})") from None
        await self.confirm_invoice(bot, invoice)

    async def confirm_invoice(self, bot: Bot, invoice: CryptoInvoice) -> None:
        if invoice.status != PAID:
            raise Refused(f"invoice {invoice.invoice_id} is {invoice.status}, not paid")
        async with self.transactions(LOCK_WAIT) as shop:
            order = await _crypto_order(shop, invoice)
            receipt = _crypto_receipt(order, invoice)
        if isinstance(await self.take(bot, receipt), Unsaved):
            raise OSError("neither the journal nor the database took the payment")

    async def start(self) -> None:
        """Startup hook: callbacks are taken."""
        self.accepting = True

    async def stop(self) -> None:
        """Shutdown hook, before the payments in flight are waited for: callbacks arriving
        from now on get 503 (the gateways call again)."""
        self.accepting = False
        if self.cryptopay is not None:
            await self.cryptopay.close()


def _number(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise Refused("InvId is not a number") from None


def _robokassa_receipt(order: Order | None, notice: Notice) -> Receipt:
    if order is None:
        raise Refused(f"unknown order {notice.inv_id}")
    if not notice.pays(order.amount, order.currency):
        raise Refused(
            f"order {order.id} costs {logged_amount(order.amount, order.currency)}, "
            f"not {notice.out_sum}"
        )
    expected = {"Shp_product": str(order.product_id), "Shp_user": str(order.user.telegram_id)}
    if notice.shp != expected:
        raise Refused(f"order {order.id}: the Shp_ parameters name another product or buyer")
    return order_receipt(order)


async def _crypto_order(shop: Shop, invoice: CryptoInvoice) -> Order:
    """The order an invoice pays: by its id, or by the order number in its payload for an
    order whose invoice id was never written (that transaction failed)."""
    order = await shop.orders.of_external(PROVIDER_CRYPTOPAY, str(invoice.invoice_id))
    if order is None and invoice.payload is not None and invoice.payload.isdigit():
        candidate = await shop.orders.get(int(invoice.payload))
        if (
            candidate is not None
            and candidate.provider == PROVIDER_CRYPTOPAY
            and candidate.external_id is None
        ):
            await shop.orders.set_external(candidate.id, str(invoice.invoice_id))
            candidate.external_id = str(invoice.invoice_id)
            order = candidate
    if order is None or invoice.payload != str(order.id):
        raise Refused(f"invoice {invoice.invoice_id} names no order of ours")
    return order


def _crypto_receipt(order: Order, invoice: CryptoInvoice) -> Receipt:
    if not invoice.pays(order.amount, order.currency):
        raise Refused(
            f"order {order.id} costs {logged_amount(order.amount, order.currency)}, not "
            f"{invoice.amount} {invoice.fiat}"
        )
    return order_receipt(order)
