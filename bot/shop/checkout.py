"""The pre-checkout check: a payment goes ahead only for the exact invoice the shop issued."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.dao.models import Product
from bot.i18n import _
from bot.shop.invoices import parse_payload, payable
from bot.shop.promo_codes import PromoPrice, hold_use
from bot.shop.services import Shop
from bot.shop.stock import is_stock, now, reserve_unit


@dataclass(frozen=True)
class Checkout:
    payload: str
    payer_id: int
    currency: str
    total_amount: int


def checkout_refusal(
    checkout: Checkout, product: Product | None, settings: Settings, price: int | None = None
) -> str | None:
    """Why this checkout must be refused, in words for the payer; None when it may go ahead.
    `price`: what the invoice must ask (the product's own, unless a promo code made it)."""
    payload = parse_payload(checkout.payload)
    if payload is None:
        return _("This invoice is not valid. Please open the product again and press Buy.")
    if payload.telegram_id != checkout.payer_id:
        return _("This invoice was issued to someone else. Please open the product and press Buy.")
    if product is None or product.id != payload.product_id or not product.on_sale:
        return _("Sorry, this product is no longer on sale.")
    if not payable(product, settings):
        return _("Sorry, this product cannot be paid for right now.")
    expected = product.price if price is None else price
    if (checkout.currency, checkout.total_amount) != (product.currency, expected):
        return _(
            "The price of this product has changed. Please open it again and buy at the new price."
        )
    return None


async def review_checkout(shop: Shop, checkout: Checkout, settings: Settings) -> str | None:
    """`checkout_refusal` against the product the payload names, as it is now. With a promo
    code, a use of it is held for the payer (refused if it no longer applies or is used up);
    for a stock product, a unit is reserved for them (refused if none is free)."""
    payload = parse_payload(checkout.payload)
    product = await shop.products.get(payload.product_id) if payload else None
    code_id = payload.promo_code_id if payload else None
    price = None
    if product is not None and code_id is not None:
        seconds = settings.stock_reservation_seconds
        held = await hold_use(shop, code_id, product, checkout.payer_id, now(), seconds)
        if not isinstance(held, PromoPrice):
            return held
        price = held.price
    refusal = checkout_refusal(checkout, product, settings, price)
    if refusal is None:
        refusal = await _reserve(shop, checkout, settings, product)
    if refusal is not None and code_id is not None and price is not None:
        await shop.promo_codes.release(code_id, checkout.payer_id)
    return refusal


async def _reserve(
    shop: Shop, checkout: Checkout, settings: Settings, product: Product | None
) -> str | None:
    """For a stock product, a unit reserved for the payer; why not, if none is free."""
    if product is None or not is_stock(product):
        return None
    seconds = settings.stock_reservation_seconds
    if await reserve_unit(shop, product, checkout.payer_id, seconds):
        return None
    return _("Sorry, this product has just sold out; please look again later.")
