"""The pre-checkout check: a payment goes ahead only for the exact invoice the shop issued."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.dao.models import Product
from bot.i18n import _
from bot.shop.invoices import parse_payload, payable
from bot.shop.services import Shop
from bot.shop.stock import is_stock, reserve_unit


@dataclass(frozen=True)
class Checkout:
    payload: str
    payer_id: int
    currency: str
    total_amount: int


def checkout_refusal(checkout: Checkout, product: Product | None, settings: Settings) -> str | None:
    """Why this checkout must be refused, in words for the payer; None when it may go ahead."""
    payload = parse_payload(checkout.payload)
    if payload is None:
        return _("This invoice is not valid. Please open the product again and press Buy.")
    if payload.telegram_id != checkout.payer_id:
        return _("This invoice was issued to someone else. Please open the product and press Buy.")
    if product is None or product.id != payload.product_id or not product.on_sale:
        return _("Sorry, this product is no longer on sale.")
    if not payable(product, settings):
        return _("Sorry, this product cannot be paid for right now.")
    if (checkout.currency, checkout.total_amount) != (product.currency, product.price):
        return _(
            "The price of this product has changed. Please open it again and buy at the new price."
        )
    return None


async def review_checkout(shop: Shop, checkout: Checkout, settings: Settings) -> str | None:
    """`checkout_refusal` against the product the payload names, as it is now; for a stock
    product that may be sold, a unit is reserved for the payer (refused if none is free)."""
    payload = parse_payload(checkout.payload)
    product = await shop.products.get(payload.product_id) if payload else None
    refusal = checkout_refusal(checkout, product, settings)
    if refusal is not None or product is None or not is_stock(product):
        return refusal
    seconds = settings.stock_reservation_seconds
    if await reserve_unit(shop, product, checkout.payer_id, seconds):
        return None
    return _("Sorry, this product has just sold out; please look again later.")
