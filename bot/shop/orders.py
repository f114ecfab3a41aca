"""Gateway orders as use cases: opening one (with a stock unit held for it), the payment it
becomes once a gateway confirms it, marking it paid in the purchase's transaction, and
expiring the ones not paid in time.

A confirmed order becomes a `Receipt` like a Telegram payment and goes through the same
`PaymentIntake` (journal, `record_payment` once per (provider, charge id), the outbox): one
purchase path for every provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.dao.models import Order
from bot.dao.orders import ExpiredOrder
from bot.dao.outbox import Outgoing
from bot.shop.customers import Customer, register
from bot.shop.gateways import GATEWAY_PROVIDERS, PROVIDER_ROBOKASSA, charge_of
from bot.shop.intake import OutboxWriter
from bot.shop.invoices import build_payload
from bot.shop.promo_codes import PromoPrice, hold_use
from bot.shop.purchases import Payment, PaymentOutcome, Receipt, Recorded
from bot.shop.services import Shop
from bot.shop.stock import is_stock, now, reserve_unit


@dataclass(frozen=True)
class OpenedOrder:
    """Plain values, so it outlives the transaction that opened it."""

    order_id: int
    product_id: int
    product_name: str
    amount: int
    currency: str
    expires_at: datetime
    promo_code_id: int | None = None


@dataclass(frozen=True)
class NotOnSale:
    """The product is gone or hidden."""


@dataclass(frozen=True)
class NoUnitLeft:
    """A stock product with no free unit to hold for the order."""


@dataclass(frozen=True)
class Offer:
    """An order the buyer can pay now, on `pay_url`."""

    order: OpenedOrder
    provider: str
    pay_url: str


@dataclass(frozen=True)
class PromoRefused:
    """The promo code does not apply, or is used up: `reason`, for the buyer."""

    reason: str


@dataclass(frozen=True)
class Unavailable:
    """The gateway could not be reached or refused the invoice."""


async def open_order(
    shop: Shop,
    provider: str,
    product_id: int,
    buyer: Customer,
    lifetime: timedelta,
    promo_code_id: int | None = None,
) -> OpenedOrder | NotOnSale | NoUnitLeft | PromoRefused:
    """A new order at the product's price (with the promo code's, a use of it held), payable
    until `lifetime` from now; a stock product's unit is held for the buyer until then. A
    Robokassa order's gateway id is its own number (the InvId); a Crypto Pay one gets its
    invoice's id once it is created."""
    product = await shop.products.on_sale(product_id)
    if product is None:
        return NotOnSale()
    user = await register(shop, buyer)
    moment = now()
    expires_at = moment + lifetime
    seconds = lifetime.total_seconds()
    price = product.price
    if promo_code_id is not None:
        held = await hold_use(shop, promo_code_id, product, buyer.telegram_id, moment, seconds)
        if not isinstance(held, PromoPrice):
            return PromoRefused(held)
        price = held.price
    if is_stock(product) and not await reserve_unit(shop, product, buyer.telegram_id, seconds):
        if promo_code_id is not None:
            await shop.promo_codes.release(promo_code_id, buyer.telegram_id)
        return NoUnitLeft()
    order = await shop.orders.open(
        provider=provider,
        user_id=user.id,
        product_id=product.id,
        amount=price,
        currency=product.currency,
        expires_at=expires_at,
        promo_code_id=promo_code_id,
    )
    if provider == PROVIDER_ROBOKASSA:
        await shop.orders.set_external(order.id, str(order.id))
    return OpenedOrder(
        order_id=order.id,
        product_id=product.id,
        product_name=product.name,
        amount=order.amount,
        currency=order.currency,
        expires_at=expires_at,
        promo_code_id=promo_code_id,
    )


def order_receipt(order: Order) -> Receipt:
    """The payment a confirmed order stands for (the order's buyer and product loaded)."""
    assert order.external_id is not None
    buyer = order.user
    return Receipt(
        update_id=0,  # not a Telegram update
        payer=Customer.of(buyer),
        payment=Payment(
            payload=build_payload(order.product_id, buyer.telegram_id, order.promo_code_id),
            amount=order.amount,
            currency=order.currency,
            charge_id=charge_of(order.provider, order.external_id),
            provider_charge_id=None,
            provider=order.provider,
        ),
    )


def settling_orders(write: OutboxWriter) -> OutboxWriter:
    """`write`, after marking a gateway payment's order paid by its new purchase, in the
    purchase's transaction (a journal replay does it too)."""

    async def settle(shop: Shop, receipt: Receipt, outcome: PaymentOutcome) -> list[Outgoing]:
        provider = receipt.payment.provider
        if provider in GATEWAY_PROVIDERS and isinstance(outcome, Recorded):
            assert provider is not None
            external_id = receipt.payment.charge_id.removeprefix(f"{provider}:")
            await shop.orders.mark_paid(provider, external_id, outcome.purchase_id, now())
        return await write(shop, receipt, outcome)

    return settle


async def expire_orders(
    shop: Shop, providers: Sequence[str], grace: timedelta
) -> list[ExpiredOrder]:
    """Expire these providers' orders not paid `grace` after their time (a payment made at
    the last moment has that long to be confirmed), and return their units to stock."""
    expired = await shop.orders.expire_due(now() - grace, providers)
    for order in expired:
        await shop.stock.release_for(order.product_id, order.telegram_id)
    return expired


async def abandon_order(shop: Shop, order: OpenedOrder, buyer_id: int) -> None:
    """An order its gateway would not take (the invoice could not be created): expired at
    once, its unit back in stock and its promo code's use given back."""
    await shop.orders.expire_now(order.order_id)
    await shop.stock.release_for(order.product_id, buyer_id)
    if order.promo_code_id is not None:
        await shop.promo_codes.release(order.promo_code_id, buyer_id)
