"""Invoices: which currency the shop sells in, whether a product can be paid for (currency
and a price Telegram accepts), and the invoice a buyer gets (with a payload naming the product
and the buyer)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loguru import logger

from bot.config import Settings
from bot.dao.models import Product
from bot.i18n import _
from bot.shop.money import STARS, logged_amount, price_range
from bot.shop.promo_codes import PromoPrice

_PAYLOAD = re.compile(r"p:([1-9][0-9]{0,9}):u:([1-9][0-9]{0,18})(?::c:([1-9][0-9]{0,9}))?")
_MAX_ROW_ID = 2**31 - 1
_MAX_TELEGRAM_ID = 2**63 - 1
# Telegram's limits for an invoice's title and description.
_TITLE_MAX = 32
_DESCRIPTION_MAX = 255


@dataclass(frozen=True)
class Payload:
    product_id: int
    telegram_id: int  # the buyer the invoice was issued to
    promo_code_id: int | None = None  # the code its price was made with


def build_payload(product_id: int, telegram_id: int, promo_code_id: int | None = None) -> str:
    code = f":c:{promo_code_id}" if promo_code_id is not None else ""
    return f"p:{product_id}:u:{telegram_id}{code}"


def parse_payload(raw: str) -> Payload | None:
    """The payload `build_payload` made, or None for anything else."""
    match = _PAYLOAD.fullmatch(raw)
    if match is None:
        return None
    product_id, telegram_id = int(match[1]), int(match[2])
    code_id = int(match[3]) if match[3] else None
    if max(product_id, code_id or 0) > _MAX_ROW_ID or telegram_id > _MAX_TELEGRAM_ID:
        return None
    return Payload(product_id=product_id, telegram_id=telegram_id, promo_code_id=code_id)


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
class Invoice:
    """What to send to a buyer as a Telegram invoice with one priced item."""

    title: str
    description: str
    payload: str
    currency: str
    amount: int
    provider_token: str  # "" for Stars


def invoice_for(
    product: Product, buyer_id: int, settings: Settings, promo: PromoPrice | None = None
) -> Invoice | None:
    """The invoice for this product and buyer (at the `promo`'s price with a promo code), or
    None when it cannot be paid for now (`unpayable_reason` says why, to the buyer)."""
    if not payable(product, settings):
        return None
    allowed = price_range(product.currency)
    if product.price not in allowed:
        # Telegram would refuse the invoice; saved before the shop checked prices, or by hand.
        # (The range in the log's words, not in the buyer's: str(allowed) is translated.)
        logger.warning(
            "product {} costs {}, outside what Telegram accepts (from {} to {}); change its price",
            product.id,
            logged_amount(product.price, product.currency),
            logged_amount(allowed.lowest, allowed.currency),
            logged_amount(allowed.highest, allowed.currency),
        )
        return None
    return Invoice(
        title=clip(product.name, _TITLE_MAX),
        description=clip(product.description or product.name, _DESCRIPTION_MAX),
        payload=build_payload(product.id, buyer_id, promo.code_id if promo else None),
        currency=product.currency,
        amount=promo.price if promo else product.price,
        provider_token="" if product.currency == STARS else provider_token(settings),
    )


def unpayable_reason(product: Product, settings: Settings) -> str:
    """Why `invoice_for` made no invoice, in one line for the buyer."""
    if payable(product, settings):
        return _(
            "Sorry, Telegram does not accept this product's price; "
            "please try again once the shop has corrected it."
        )
    return _("Sorry, this product cannot be paid for right now.")
