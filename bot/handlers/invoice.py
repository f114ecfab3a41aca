"""Invoices: their payload, their currency, and whether a checkout may go ahead."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import Settings
from bot.dao.models import Product
from bot.dao.money import STARS

_PAYLOAD = re.compile(r"p:([1-9][0-9]{0,9}):u:([1-9][0-9]{0,18})")
_MAX_PRODUCT_ID = 2**31 - 1
_MAX_TELEGRAM_ID = 2**63 - 1
# Telegram's limits for an invoice's title and description.
TITLE_MAX = 32
DESCRIPTION_MAX = 255


@dataclass(frozen=True)
class Payload:
    product_id: int
    telegram_id: int  # the buyer the invoice was issued to


def build_payload(product_id: int, telegram_id: int) -> str:
    return f"p:{product_id}:u:{telegram_id}"


def parse_payload(raw: str) -> Payload | None:
    """The payload `build_payload` made, or None for anything else."""
    match = _PAYLOAD.fullmatch(raw)
    if match is None:
        return None
    product_id, telegram_id = int(match[1]), int(match[2])
    if product_id > _MAX_PRODUCT_ID or telegram_id > _MAX_TELEGRAM_ID:
        return None
    return Payload(product_id=product_id, telegram_id=telegram_id)


def provider_token(settings: Settings) -> str:
    """The payment provider token, or "" for Telegram Stars."""
    token = settings.payments_provider_token
    return token.get_secret_value().strip() if token is not None else ""


def shop_currency(settings: Settings) -> str:
    """The currency new products are priced in: Stars unless a provider token is set."""
    return settings.payments_currency if provider_token(settings) else STARS


def payable(product: Product, settings: Settings) -> bool:
    """Stars always work; any other currency needs the provider token."""
    return product.currency == STARS or bool(provider_token(settings))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        return "This invoice is not valid. Please open the product again and press Buy."
    if payload.telegram_id != checkout.payer_id:
        return "This invoice was issued to someone else. Please open the product and press Buy."
    if product is None or product.id != payload.product_id or not product.on_sale:
        return "Sorry, this product is no longer on sale."
    if not payable(product, settings):
        return "Sorry, this product cannot be paid for right now."
    if (checkout.currency, checkout.total_amount) != (product.currency, product.price):
        return (
            "The price of this product has changed. Please open it again and buy at the new price."
        )
    return None
