"""The shop's pure parts: money, invoice payloads, the checkout check, callback data, admin
notices, and the session middleware's commit/rollback/after-commit contract."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.config import Settings
from bot.dao.database import create_session_factory
from bot.dao.models import Category, Product
from bot.dao.money import format_amount, parse_price
from bot.handlers.delivery import notify_admins
from bot.handlers.invoice import (
    Checkout,
    build_payload,
    checkout_refusal,
    parse_payload,
    shop_currency,
)
from bot.keyboards.callbacks import AdminProduct, Buy, CategoryPage, ProductCard
from bot.middlewares.database import DatabaseSessionMiddleware
from tests.fakes.bot_api import FakeBotAPI
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
        ("1 000 000", "USD", 100_000_000),
        ("5", "JPY", 5),
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
    ],
)
def test_bad_prices_are_refused_with_a_reason(text: str | None, currency: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_price(text, currency)


def test_amounts_are_shown_with_their_currency() -> None:
    assert format_amount(150, "XTR") == "150 ⭐"
    assert format_amount(19999, "RUB") == "199.99 RUB"
    assert format_amount(100_000_000, "USD") == "1 000 000.00 USD"
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


@pytest.mark.parametrize(
    ("factory", "data"),
    [
        (ProductCard, "prod:abc:0"),
        (ProductCard, "prod:0:0"),
        (ProductCard, "prod:-1:0"),
        (ProductCard, f"prod:{2**31}:0"),
        (ProductCard, "prod:1:-1"),
        (CategoryPage, "cat:1"),
        (Buy, "buy:1:2"),
        (Buy, "prod:1"),
        (AdminProduct, "admp:explode:1"),
    ],
)
def test_forged_callback_data_does_not_unpack(factory: Any, data: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        factory.unpack(data)


def test_an_admin_who_blocked_the_bot_does_not_stop_the_other_notices(
    fake_api: FakeBotAPI,
) -> None:
    fake_api.set_failure("sendMessage", error_code=403, description="Forbidden: bot was blocked")

    async def notify() -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake_api.url))
        async with Bot(TEST_TOKEN, session=session) as bot:
            await notify_admins(bot, {9002, 9001, 9003}, "💰 sold")

    asyncio.run(notify())
    calls = fake_api.calls_of("sendMessage")
    assert [call.params["chat_id"] for call in calls] == [9001, 9002, 9003]  # the first failed


async def test_session_per_update_commits_rolls_back_and_runs_after_commit(
    engine: AsyncEngine,
) -> None:
    await migration.migrate(engine)
    factory = create_session_factory(engine)
    middleware = DatabaseSessionMiddleware(factory)
    update = Update(update_id=1)
    seen_after_commit: list[list[str]] = []

    async def names() -> list[str]:
        async with factory() as session:
            return list(await session.scalars(select(Category.name).order_by(Category.name)))

    def adds(name: str, *, fail: bool) -> Callable[[Any, dict[str, Any]], Awaitable[str]]:
        async def handler(event: Any, data: dict[str, Any]) -> str:
            data["session"].add(Category(name=name))
            await data["session"].flush()

            async def look() -> None:
                seen_after_commit.append(await names())

            data["after_commit"](look)
            if fail:
                raise RuntimeError("handler failed")
            return "done"

        return handler

    assert await middleware(adds("Books", fail=False), update, {}) == "done"
    with pytest.raises(RuntimeError):
        await middleware(adds("Courses", fail=True), update, {})
    assert await names() == ["Books"]
    assert seen_after_commit == [["Books"]]  # after the commit, and never after a rollback
