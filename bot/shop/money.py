"""Amounts are integers in the currency's minor units; this turns them into text and back.

Telegram Stars (XTR) are whole. The per-currency exponents follow Telegram's currencies.json
(`exp`): 2 for most currencies, 0 for the few listed here.
"""

from __future__ import annotations

import re
from decimal import Decimal

STARS = "XTR"
_ZERO_DECIMAL = frozenset(
    {STARS, "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"}
)
# Telegram takes at most 10000 Stars for one invoice item: it is the bound aiogram documents for
# Star prices (createInvoiceLink subscription_price, createChatSubscriptionInviteLink: 1-10000).
MAX_STARS = 10_000
MAX_MAJOR_UNITS = 1_000_000
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def exponent(currency: str) -> int:
    return 0 if currency in _ZERO_DECIMAL else 2


def format_amount(amount: int, currency: str) -> str:
    """`150 ⭐` for Stars, `199.99 RUB` for a currency with cents."""
    if currency == STARS:
        return f"{amount} ⭐"
    digits = exponent(currency)
    major = Decimal(amount).scaleb(-digits)
    return f"{major:,.{digits}f} {currency}".replace(",", " ")


def price_hint(currency: str) -> str:
    if currency == STARS:
        return f"a whole number of Stars from 1 to {MAX_STARS}, e.g. 150"
    if exponent(currency) == 0:
        return f"a whole number of {currency} from 1 to {MAX_MAJOR_UNITS}"
    return f"an amount in {currency} up to {MAX_MAJOR_UNITS}, e.g. 199.99"


def parse_price(text: str | None, currency: str) -> int:
    """A price typed by a person, in minor units; ValueError with a message for that person."""
    raw = (text or "").strip().replace(" ", "")
    if not _NUMBER.fullmatch(raw):
        raise ValueError(f"That is not a price. Send {price_hint(currency)}.")
    value = Decimal(raw.replace(",", "."))
    digits = exponent(currency)
    if value <= 0:
        raise ValueError("The price must be greater than zero.")
    limit = MAX_STARS if currency == STARS else MAX_MAJOR_UNITS
    if value > limit:
        raise ValueError(f"That is too much: the price can be at most {limit} {currency}.")
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        detail = "whole numbers only" if digits == 0 else f"at most {digits} decimal places"
        raise ValueError(f"Too precise for {currency}: {detail}.")
    return int(minor)
