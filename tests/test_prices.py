"""Prices Telegram accepts, in-process through the real dispatcher with card payments in RUB:
the admin form refuses a price outside the currency's range and says the range; a product
whose stored price Telegram would refuse gets no invoice at Buy, only a clear alert."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.databases import ThrowawayDatabase
from tests.support.shop import Chat, Screen, ShopBot, running_shop

ADMIN, BUYER = 9001, 5001
RUB_RANGE = "from 100.00 RUB to 500,000.00 RUB"


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    settings = {
        "admin_ids": str(ADMIN),
        "payments_provider_token": "381764678:TEST:provider-secret",
        "payments_currency": "RUB",
    }
    async with running_shop(database, **settings) as running:
        yield running


async def add_course(shop: ShopBot, price: int) -> None:
    await shop.add_product(
        "Courses", name="SQL course", price=price, currency="RUB", hidden_content="key"
    )


async def at_price_step(admin: Chat) -> Screen:
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    await admin.tap(panel, "Add product")
    await admin.send("SQL course")
    pick = await admin.send("Ten lessons")
    return await admin.tap(pick, "Courses")


async def test_the_admin_form_takes_only_prices_telegram_accepts(shop: ShopBot) -> None:
    await add_course(shop, 19999)
    admin = shop.chat(ADMIN)

    asked = await at_price_step(admin)
    too_little = await admin.send("0.01")
    too_much = await admin.send("2000000")
    taken = await admin.send("100")

    assert f"Now the price: an amount in RUB, {RUB_RANGE}." in asked.text
    assert too_little.text == f"That is too little: Telegram accepts prices {RUB_RANGE}."
    assert too_much.text == f"That is too much: Telegram accepts prices {RUB_RANGE}."
    assert "Send a photo for the product's card" in taken.text


@pytest.mark.parametrize("price", [1, 50_000_100])  # 0.01 RUB and 500 001.00 RUB
async def test_buy_refuses_a_stored_price_telegram_would_refuse(shop: ShopBot, price: int) -> None:
    await add_course(shop, price)
    buyer = shop.chat(BUYER)
    catalog = await buyer.tap(await buyer.send("/start"), "Catalog")
    card = await buyer.tap(await buyer.tap(catalog, "Courses"), "SQL course")

    pressed = await buyer.press(card.button("Buy"))

    assert pressed.of("sendInvoice") == []
    assert pressed.answer.params["show_alert"] is True
    assert "does not accept this product's price" in (pressed.notice or "")
    [warning] = [line for line in shop.log if "outside what Telegram accepts" in line]
    assert "product 1 costs" in warning and RUB_RANGE in warning
