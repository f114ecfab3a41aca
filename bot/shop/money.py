"""Amounts are integers in the currency's minor units; this turns them into text and back,
and knows which prices Telegram accepts.

Telegram Stars (XTR) are whole. The per-currency exponents follow Telegram's currencies.json
(`exp`): 2 for most currencies, 0 for the few listed here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot.i18n import _, ngettext
from bot.i18n.formats import SOURCE_LANGUAGE, number

STARS = "XTR"
_ZERO_DECIMAL = frozenset(
    {STARS, "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND"}
)
# Telegram takes at most 10000 Stars for one invoice item: it is the bound aiogram documents for
# Star prices (createInvoiceLink subscription_price, createChatSubscriptionInviteLink: 1-10000).
MAX_STARS = 10_000
# Card payments: Telegram refuses an invoice whose total is outside the currency's min_amount ..
# max_amount in https://core.telegram.org/bots/payments/currencies.json, about 1 USD to
# 10 000 USD at the day's exchange rate (e.g. RUB 86.53 .. 865 304.75). Those bounds move with
# the rates, so these are fixed bounds inside them with room for the rates to move (1 USD =
# 0.8-1 EUR, 75-100 RUB, 38-48 UAH, 430-600 KZT), in major units. USD's are Telegram's own.
_CARD_BOUNDS: dict[str, tuple[Decimal, Decimal]] = {
    "USD": (Decimal(1), Decimal(10_000)),
    "EUR": (Decimal(1), Decimal(7_000)),
    "RUB": (Decimal(100), Decimal(500_000)),
    "UAH": (Decimal(50), Decimal(200_000)),
    "KZT": (Decimal(600), Decimal(3_000_000)),
}
# Any other currency: 1 to 10 000 units, what Telegram accepts for a currency worth about a
# dollar; add a currency trading far from the dollar to the table above.
_OTHER_CARD_BOUNDS = (Decimal(1), Decimal(10_000))
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def exponent(currency: str) -> int:
    return 0 if currency in _ZERO_DECIMAL else 2


def format_amount(amount: int, currency: str, language: str | None = None) -> str:
    """`150 ⭐` for Stars, `1,199.99 RUB` for a currency with cents, as `language` (or the
    current one) writes numbers (`1 199,99 RUB` in Russian)."""
    if currency == STARS:
        return f"{number(amount, language=language)} ⭐"
    digits = exponent(currency)
    return f"{number(Decimal(amount).scaleb(-digits), digits, language)} {currency}"


def format_amounts(totals: Mapping[str, int]) -> str:
    """Amounts in several currencies, `150 ⭐, 1,199.99 RUB` (currency -> minor units)."""
    return ", ".join(format_amount(amount, currency) for currency, amount in totals.items())


def logged_amount(amount: int, currency: str) -> str:
    """An amount as the log writes it whatever the user's language: what an admin greps for."""
    return format_amount(amount, currency, SOURCE_LANGUAGE)


@dataclass(frozen=True)
class PriceRange:
    """The prices Telegram accepts for one invoice item in a currency, in minor units."""

    currency: str
    lowest: int
    highest: int

    def __contains__(self, amount: int) -> bool:
        return self.lowest <= amount <= self.highest

    def __str__(self) -> str:
        return _("from {lowest} to {highest}").format(
            lowest=format_amount(self.lowest, self.currency),
            highest=format_amount(self.highest, self.currency),
        )


def price_range(currency: str) -> PriceRange:
    if currency == STARS:
        return PriceRange(STARS, 1, MAX_STARS)
    lowest, highest = _CARD_BOUNDS.get(currency, _OTHER_CARD_BOUNDS)
    digits = exponent(currency)
    return PriceRange(currency, int(lowest.scaleb(digits)), int(highest.scaleb(digits)))


def price_hint(currency: str) -> str:
    """What to type for a price, a noun phrase: "an amount in RUB, from … to …"."""
    allowed = price_range(currency)
    if currency == STARS:
        return _("a whole number of Stars {range}, e.g. 150").format(range=allowed)
    if exponent(currency) == 0:
        return _("a whole number in {currency}, {range}").format(currency=currency, range=allowed)
    return _("an amount in {currency}, {range}").format(currency=currency, range=allowed)


def parse_price(text: str | None, currency: str) -> int:
    """A price typed by a person, in minor units; ValueError with a message for that person."""
    raw = (text or "").strip().replace(" ", "")
    if not _NUMBER.fullmatch(raw):
        raise ValueError(_("That is not a price. Send {hint}.").format(hint=price_hint(currency)))
    digits = exponent(currency)
    minor = Decimal(raw.replace(",", ".")).scaleb(digits)
    if minor != minor.to_integral_value():
        raise ValueError(_too_precise(currency, digits))
    allowed = price_range(currency)
    if minor <= 0:
        refusal = _("The price must be greater than zero: Telegram accepts prices {range}.")
    elif minor < allowed.lowest:
        refusal = _("That is too little: Telegram accepts prices {range}.")
    elif minor > allowed.highest:
        refusal = _("That is too much: Telegram accepts prices {range}.")
    else:
        return int(minor)
    raise ValueError(refusal.format(range=allowed))


def _too_precise(currency: str, digits: int) -> str:
    if digits == 0:
        return _("Too precise for {currency}: whole numbers only.").format(currency=currency)
    return ngettext(
        "Too precise for {currency}: at most {count} decimal place.",
        "Too precise for {currency}: at most {count} decimal places.",
        digits,
    ).format(currency=currency, count=digits)
