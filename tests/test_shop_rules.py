"""The shop's rules, without Telegram or a database: money, invoices, the checkout check and
what an admin may type."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.dao.models import Category, Product
from bot.shop.checkout import Checkout, checkout_refusal
from bot.shop.invoices import (
    build_payload,
    invoice_for,
    parse_payload,
    shop_currency,
    unpayable_reason,
)
from bot.shop.money import PriceRange, format_amount, parse_price, price_range
from bot.shop.validation import CATEGORY_NAME_MAX, PRODUCT_NAME_MAX, clean_text
from tests.support.processes import TEST_TOKEN


def settings(token: str | None = None, currency: str = "RUB") -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(TEST_TOKEN),
        payments_provider_token=SecretStr(token) if token else None,
        payments_currency=currency,
    )


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("150", "XTR", 150),
        (" 10000 ", "XTR", 10000),
        ("150.0", "XTR", 150),
        ("199.99", "RUB", 19999),
        ("199,9", "RUB", 19990),
        ("10 000", "USD", 1_000_000),
        ("5", "JPY", 5),
        # The edges of what Telegram accepts (see bot.shop.money): all allowed.
        ("1", "XTR", 1),
        ("100", "RUB", 10_000),
        ("500000", "RUB", 50_000_000),
        ("1", "USD", 100),
        ("7000", "EUR", 700_000),
        ("50", "UAH", 5_000),
        ("3 000 000", "KZT", 300_000_000),
        ("10000", "JPY", 10_000),
    ],
)
def test_prices_are_read_in_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_price(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "why"),
    [
        ("abc", "XTR", "not a price"),
        ("", "XTR", "not a price"),
        (None, "XTR", "not a price"),
        ("1e3", "XTR", "not a price"),
        ("NaN", "RUB", "not a price"),
        ("-5", "XTR", "greater than zero"),
        ("0", "RUB", "greater than zero"),
        ("0.00", "RUB", "greater than zero"),
        ("0.001", "RUB", "at most 2 decimal places"),
        ("1.5", "XTR", "whole numbers only"),
        ("1.999", "RUB", "at most 2 decimal places"),
        ("10001", "XTR", "too much"),
        ("1000000.01", "RUB", "too much"),
        ("9" * 40 + ".5", "RUB", "too much"),
        # What Telegram refuses for card payments, with the range it accepts.
        ("0.01", "RUB", r"too little: Telegram accepts prices from 100\.00 RUB to 500,000\.00 RUB"),
        ("99.99", "RUB", "too little"),
        ("500000.01", "RUB", "too much"),
        (
            "2000000",
            "RUB",
            r"too much: Telegram accepts prices from 100\.00 RUB to 500,000\.00 RUB",
        ),
        ("0.99", "USD", "too little"),
        ("10000.01", "USD", "too much"),
        ("0.5", "EUR", "too little"),
        ("7000.01", "EUR", "too much"),
        ("49.99", "UAH", "too little"),
        ("599", "KZT", "too little"),
        ("3000000.01", "KZT", "too much"),
        ("10001", "JPY", "too much"),
    ],
)
def test_bad_prices_are_refused_with_a_reason(text: str | None, currency: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_price(text, currency)


def test_amounts_are_shown_with_their_currency() -> None:
    assert format_amount(150, "XTR") == "150 ⭐"
    assert format_amount(19999, "RUB") == "199.99 RUB"
    assert format_amount(100_000_000, "USD") == "1,000,000.00 USD"
    assert format_amount(5, "JPY") == "5 JPY"


def test_the_shop_currency_is_stars_unless_a_provider_token_is_set() -> None:
    assert shop_currency(settings()) == "XTR"
    assert shop_currency(settings("381764678:TEST:1", "usd")) == "USD"


def test_payload_round_trips_and_rejects_anything_else() -> None:
    payload = parse_payload(build_payload(7, 5001))
    assert payload is not None and (payload.product_id, payload.telegram_id) == (7, 5001)
    for forged in [
        "",
        "p:7",
        "p:7:u:5001:x",
        " p:7:u:5001",
        "p:07:u:5001",
        "p:-7:u:5001",
        "p:abc:u:5001",
        "p:7:u:",
        f"p:{2**31}:u:5001",
        f"p:7:u:{2**63}",
        "p:7:u:5001\n",
        "p:٧:u:5001",  # a non-ASCII digit
    ]:
        assert parse_payload(forged) is None, forged


def test_checkout_goes_ahead_only_for_the_exact_invoice() -> None:
    product = Product(id=7, name="Book", price=150, currency="XTR", on_sale=True)
    good = Checkout(payload=build_payload(7, 5001), payer_id=5001, currency="XTR", total_amount=150)
    assert checkout_refusal(good, product, settings()) is None
    bad = {
        "garbage": (Checkout("garbage", 5001, "XTR", 150), product),
        "another payer": (Checkout(good.payload, 5002, "XTR", 150), product),
        "amount": (Checkout(good.payload, 5001, "XTR", 1), product),
        "currency": (Checkout(good.payload, 5001, "RUB", 150), product),
        "unknown product": (good, None),
        "other product": (good, Product(id=8, name="B", price=150, currency="XTR", on_sale=True)),
        "hidden": (good, Product(id=7, name="Book", price=150, currency="XTR", on_sale=False)),
    }
    for case, (checkout, offered) in bad.items():
        assert checkout_refusal(checkout, offered, settings()), case
    card = Product(id=7, name="Book", price=19999, currency="RUB", on_sale=True)
    card_checkout = Checkout(good.payload, 5001, "RUB", 19999)
    assert "cannot be paid" in (checkout_refusal(card_checkout, card, settings()) or "")
    assert checkout_refusal(card_checkout, card, settings("381764678:TEST:1")) is None


def test_an_invoice_is_issued_to_its_buyer_only_in_a_currency_the_shop_can_take() -> None:
    book = Product(id=7, name="B" * 40, description="", price=150, currency="XTR", on_sale=True)
    invoice = invoice_for(book, 5001, settings())
    assert invoice is not None
    assert (invoice.title, invoice.description) == ("B" * 31 + "…", "B" * 40)
    assert parse_payload(invoice.payload) == parse_payload(build_payload(7, 5001))
    assert (invoice.currency, invoice.amount, invoice.provider_token) == ("XTR", 150, "")
    card = Product(id=8, name="Course", description="Long", price=19999, currency="RUB")
    assert invoice_for(card, 5001, settings()) is None
    by_card = invoice_for(card, 5001, settings(" 381764678:TEST:1 "))
    assert by_card is not None
    assert (by_card.description, by_card.provider_token) == ("Long", "381764678:TEST:1")


@pytest.mark.parametrize(
    ("price", "currency"), [(1, "RUB"), (9_999, "RUB"), (50_000_001, "RUB"), (10_001, "XTR")]
)
def test_no_invoice_for_a_stored_price_telegram_refuses(price: int, currency: str) -> None:
    product = Product(id=8, name="Course", description="", price=price, currency=currency)
    with_token = settings("381764678:TEST:1")
    assert invoice_for(product, 5001, with_token) is None
    assert "does not accept this product's price" in unpayable_reason(product, with_token)


def test_a_product_in_a_currency_the_shop_cannot_take_is_not_blamed_on_its_price() -> None:
    card = Product(id=8, name="Course", description="", price=19999, currency="RUB")
    assert unpayable_reason(card, settings()) == "Sorry, this product cannot be paid for right now."


def test_price_ranges_are_in_minor_units_and_say_what_telegram_accepts() -> None:
    assert price_range("RUB") == PriceRange("RUB", 10_000, 50_000_000)
    assert price_range("XTR") == PriceRange("XTR", 1, 10_000)
    assert price_range("JPY") == PriceRange("JPY", 1, 10_000)  # no minor units
    assert price_range("GBP") == PriceRange("GBP", 100, 1_000_000)  # any other currency
    assert str(price_range("USD")) == "from 1.00 USD to 10,000.00 USD"
    assert 10_000 in price_range("RUB") and 9_999 not in price_range("RUB")


def test_names_are_limited_by_the_columns_that_store_them() -> None:
    assert Product.__table__.c.name.type.length == PRODUCT_NAME_MAX
    assert Category.__table__.c.name.type.length == CATEGORY_NAME_MAX
    assert clean_text("  Books ", what="the name", max_length=CATEGORY_NAME_MAX) == "Books"
    with pytest.raises(ValueError, match="too long: 65 characters, at most 64"):
        clean_text("x" * 65, what="the name", max_length=CATEGORY_NAME_MAX)
    with pytest.raises(ValueError, match="The name cannot be empty"):
        clean_text("  ", what="the name", max_length=CATEGORY_NAME_MAX)
    with pytest.raises(ValueError, match="as a text message"):
        clean_text(None, what="the name", max_length=CATEGORY_NAME_MAX)
