"""Payment gateways outside Telegram Payments: Robokassa (cards, by a signed payment link)
and Crypto Pay (@CryptoBot invoices). Which of them can take a product's price."""

from __future__ import annotations

from bot.config import Settings
from bot.dao.models import Product

# purchases.provider and orders.provider of a gateway's payments.
PROVIDER_ROBOKASSA = "robokassa"
PROVIDER_CRYPTOPAY = "cryptopay"
GATEWAY_PROVIDERS = (PROVIDER_ROBOKASSA, PROVIDER_CRYPTOPAY)

# Robokassa takes roubles (OutSum) unless the shop is set up for another currency; the shop
# asks for roubles only, so the sum a Result URL reports is always in the product's currency.
ROBOKASSA_CURRENCY = "RUB"
# The fiat currencies a Crypto Pay invoice can be priced in (`fiat` of createInvoice).
CRYPTOPAY_FIATS = frozenset(
    [
        "USD",
        "EUR",
        "RUB",
        "BYN",
        "UAH",
        "GBP",
        "CNY",
        "KZT",
        "UZS",
        "GEL",
        "TRY",
        "AMD",
        "THB",
        "INR",
        "BRL",
        "IDR",
        "AZN",
        "AED",
        "PLN",
        "ILS",
    ]
)


def gateways_for(product: Product, settings: Settings) -> list[str]:
    """The gateways set up that can take this product's price, in the order offered."""
    found = []
    if settings.robokassa_enabled and product.currency == ROBOKASSA_CURRENCY:
        found.append(PROVIDER_ROBOKASSA)
    if settings.cryptopay_enabled and product.currency in CRYPTOPAY_FIATS:
        found.append(PROVIDER_CRYPTOPAY)
    return found


def charge_of(provider: str, external_id: str) -> str:
    """A gateway payment's charge id: unique across providers, so the payment journal (keyed
    by charge id) never mixes two of them up."""
    return f"{provider}:{external_id}"
