"""Promo codes: which code applies to which product now, the price it makes, holding a use at
pre-checkout and spending it with the payment.

A code is checked three times: when the buyer types it (the card then shows the new price),
when Buy makes the invoice, and at pre-checkout, which also holds a use for the payer under the
code's row lock (bot.dao.promo_codes). The payment spends that use in its own transaction; a
payment that arrives after the code ran out is honoured at the price paid (the money moved),
its use recorded all the same, and logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from loguru import logger

from bot.dao.catalog import ShownProduct
from bot.dao.models import PROMO_CODE_MAX, PromoCode
from bot.i18n import _
from bot.shop.money import format_amount, logged_amount, price_range
from bot.shop.services import Shop

_CODE = re.compile(rf"[A-Z0-9_-]{{3,{PROMO_CODE_MAX}}}")


def normalise(text: str | None) -> str | None:
    """The code as stored (upper case), or None for what cannot be a code: 3-32 of the
    letters A-Z, digits, `-` and `_`."""
    code = (text or "").strip().upper()
    return code if _CODE.fullmatch(code) else None


@dataclass(frozen=True)
class PromoPrice:
    """A product's price with a code."""

    code_id: int
    code: str
    price: int
    list_price: int
    currency: str

    @property
    def discount(self) -> int:
        return self.list_price - self.price


def discounted(code: PromoCode, price: int, currency: str) -> int:
    """The price with the code, rounded half up to the currency's minor unit, and never
    below the least Telegram accepts (1 Star)."""
    if code.percent is not None:
        lower = (price * (100 - code.percent) + 50) // 100
    else:
        lower = price - (code.amount or 0)
    return max(lower, price_range(currency).lowest) if lower < price else price


def describe(code: PromoCode) -> str:
    """ "20%" or "50 ⭐": what the code takes off."""
    if code.percent is not None:
        return f"{code.percent}%"
    return format_amount(code.amount or 0, code.currency or "")


def refusal(code: PromoCode | None, product: ShownProduct, moment: datetime) -> str | None:
    """Why the code does not apply to the product now, for the buyer; None when it does
    (its uses are counted apart, `limits_refusal`)."""
    if code is None:
        return _("There is no such promo code.")
    if not code.active or (code.ends_at is not None and code.ends_at <= moment):
        return _("This promo code is no longer valid.")
    if code.starts_at is not None and code.starts_at > moment:
        return _("This promo code is not valid yet.")
    scoped_out = (code.product_id is not None and code.product_id != product.id) or (
        code.category_id is not None and code.category_id != product.category_id
    )
    if scoped_out or (code.currency is not None and code.currency != product.currency):
        return _("This promo code does not apply to this product.")
    if discounted(code, product.price, product.currency) == product.price:
        return _("This promo code takes nothing off this product's price.")
    return None


async def limits_refusal(
    shop: Shop, code: PromoCode, telegram_id: int, moment: datetime
) -> str | None:
    """Why the buyer cannot have one more use of the code; None when they can."""
    total, mine = await shop.promo_codes.counted(code.id, moment, but_for=telegram_id)
    if code.max_uses is not None and total >= code.max_uses:
        return _("This promo code has been used up.")
    if code.per_user is not None and mine >= code.per_user:
        return _("You have already used this promo code.")
    return None


async def promo_price(
    shop: Shop, code: PromoCode | None, product: ShownProduct, telegram_id: int, moment: datetime
) -> PromoPrice | str:
    """The product's price with the code for this buyer, or why there is none (someone
    else's personal code is no code at all to them)."""
    if code is not None and code.owner_telegram_id not in (None, telegram_id):
        code = None
    refused = refusal(code, product, moment)
    if refused is None and code is not None:
        refused = await limits_refusal(shop, code, telegram_id, moment)
    if refused is not None or code is None:
        return refused or _("There is no such promo code.")
    price = discounted(code, product.price, product.currency)
    return PromoPrice(code.id, code.code, price, product.price, product.currency)


async def hold_use(
    shop: Shop, code_id: int, product: ShownProduct, payer_id: int, moment: datetime, seconds: float
) -> PromoPrice | str:
    """At pre-checkout: the price with the code, with a use held for the payer until the payment may
    arrive; or why not. Under the code's row lock, so a last use goes to one payer."""
    code = await shop.promo_codes.get(code_id, lock=True)
    found = await promo_price(shop, code, product, payer_id, moment)
    if isinstance(found, PromoPrice):
        await shop.promo_codes.hold(code_id, payer_id, moment + timedelta(seconds=seconds))
    return found


async def spend_use(
    shop: Shop, code_id: int, payer_id: int, purchase_id: int, discount: int, currency: str
) -> None:
    """With the payment: spend the payer's held use. One that was not held (it expired, and
    the code may have run out since) is recorded too, and logged."""
    code = await shop.promo_codes.get(code_id, lock=True)
    if code is None:  # deleted by hand: the purchase stands at the price paid
        logger.warning(
            "purchase {} names promo code {}, which no longer exists", purchase_id, code_id
        )
        return
    if not await shop.promo_codes.spend(code_id, payer_id, purchase_id, discount):
        logger.warning(
            "purchase {}: promo code {} ({} off) used by user {} without a held use; honoured "
            "at the price paid",
            purchase_id,
            code.code,
            logged_amount(discount, currency),
            payer_id,
        )
