"""Stock products, in-process through the real dispatcher on SQLite and PostgreSQL: the
catalog's stock, reservation at pre-checkout, every unit sold once under a race of buyers,
expiry, refunds when no unit is left, re-delivery of the same unit, and the admin's units."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import update

from bot.dao.database import create_engine
from bot.dao.models import KIND_STOCK, UNIT_RESERVED, UNIT_SOLD, Product, Purchase, StockUnit
from bot.middlewares.database import shop_transactions
from bot.shop import Shop
from bot.shop.customers import Customer
from bot.shop.invoices import build_payload
from bot.shop.purchases import Payment, Recorded, SoldOut, record_payment
from bot.shop.stock import load_units
from bot.workers.reservations import ReservationSweep
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import Chat, Screen, ShopBot, running_shop, texts

ADMIN = 9001
PRICE = 25
BUYERS = 50
UNITS = 10


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


async def stock_product(shop: ShopBot, units: int, name: str = "Game key") -> int:
    """A stock product on sale with `units` units KEY-0001…; its id."""
    product_id = await shop.add_product(
        "Keys", name=name, price=PRICE, currency="XTR", kind=KIND_STOCK
    )
    keys = "\n".join(f"KEY-{n:04d}" for n in range(1, units + 1))
    await shop.run(lambda session: load_units(Shop.on(session), product_id, keys))
    return product_id


def checkout(shop: ShopBot, buyer: int, product_id: int) -> dict[str, Any]:
    payload = build_payload(product_id, buyer)
    return shop.telegram.pre_checkout_update(
        buyer, currency="XTR", total_amount=PRICE, payload=payload
    )


def payment(shop: ShopBot, buyer: int, product_id: int) -> dict[str, Any]:
    payload = build_payload(product_id, buyer)
    return shop.telegram.payment_update(
        buyer, currency="XTR", total_amount=PRICE, payload=payload, charge_id=f"charge-{buyer}"
    )


async def sold_units(shop: ShopBot) -> list[StockUnit]:
    return await shop.rows(StockUnit, StockUnit.state == UNIT_SOLD)


async def expire_reservations(shop: ShopBot) -> None:
    await shop.run(
        lambda session: session.execute(
            update(StockUnit)
            .where(StockUnit.state == UNIT_RESERVED)
            .values(reserved_until=StockUnit.created_at)
        )
    )


def refunds(shop: ShopBot, mark: int = 0) -> list[Call]:
    return [call for call in shop.telegram.calls[mark:] if call.method == "refundStarPayment"]


# ---------------------------------------------------------------------------- the race


async def test_fifty_buyers_racing_for_ten_units_get_ten_distinct_ones(shop: ShopBot) -> None:
    """Concurrent pre-checkouts reserve exactly 10 units; the 10 payments then sell them."""
    product_id = await stock_product(shop, UNITS)
    buyers = range(6001, 6001 + BUYERS)
    mark = shop.telegram.mark()

    await shop.feed(*(checkout(shop, buyer, product_id) for buyer in buyers))

    answers = [call.params for call in shop.telegram.calls[mark:] if "ok" in call.params]
    accepted = [params for params in answers if params["ok"]]
    refused = [params for params in answers if not params["ok"]]
    assert (len(accepted), len(refused)) == (UNITS, BUYERS - UNITS)
    assert {params["error_message"] for params in refused} == {
        "Sorry, this product has just sold out; please look again later."
    }
    reserved = await shop.rows(StockUnit, StockUnit.state == UNIT_RESERVED)
    holders = sorted(unit.reserved_for for unit in reserved)
    assert len(set(holders)) == UNITS

    await shop.feed(*(payment(shop, buyer, product_id) for buyer in holders))

    sold = await sold_units(shop)
    assert len({unit.content for unit in sold}) == UNITS
    assert sorted(unit.reserved_for for unit in sold) == holders  # each got the unit held for them
    purchases = await shop.rows(Purchase)
    assert sorted(unit.purchase_id for unit in sold) == [purchase.id for purchase in purchases]
    assert refunds(shop) == []


async def test_fifty_payments_without_reservations_sell_ten_and_refund_forty(
    shop: ShopBot,
) -> None:
    """The fallback path: every reservation expired, so each payment takes any free unit."""
    product_id = await stock_product(shop, UNITS)
    buyers = list(range(7001, 7001 + BUYERS))

    await shop.feed(*(payment(shop, buyer, product_id) for buyer in buyers))

    sold = await sold_units(shop)
    assert len(sold) == len({unit.content for unit in sold}) == UNITS
    assert len(await shop.rows(Purchase)) == UNITS
    winners = {unit.reserved_for for unit in sold}
    refunded = {
        (call.params["user_id"], call.params["telegram_payment_charge_id"])
        for call in refunds(shop)
    }
    assert refunded == {(buyer, f"charge-{buyer}") for buyer in buyers if buyer not in winners}


async def test_two_engines_selling_at_once_never_sell_a_unit_twice(
    database: ThrowawayDatabase, shop: ShopBot
) -> None:
    """Two connection pools (as two bot instances have) record payments at once."""
    product_id = await stock_product(shop, UNITS)
    engines = [create_engine(database.url) for _ in range(2)]
    try:
        transactions = [shop_transactions(engine) for engine in engines]

        async def pay(buyer: int) -> object:
            customer = Customer(telegram_id=buyer, username=None, first_name="B", last_name=None)
            paid = Payment(build_payload(product_id, buyer), PRICE, "XTR", f"c-{buyer}", None)
            async with transactions[buyer % 2](30.0) as shop_now:
                return await record_payment(shop_now, customer, paid)

        outcomes = await asyncio.gather(*(pay(buyer) for buyer in range(8001, 8001 + BUYERS)))
    finally:
        for engine in engines:
            await engine.dispose()

    recorded = [outcome for outcome in outcomes if isinstance(outcome, Recorded)]
    assert len(recorded) == UNITS
    assert sum(isinstance(outcome, SoldOut) for outcome in outcomes) == BUYERS - UNITS
    assert len({outcome.goods.content for outcome in recorded}) == UNITS
    assert len(await sold_units(shop)) == len(await shop.rows(Purchase)) == UNITS


# ---------------------------------------------------------------------------- expiry, refunds


async def test_an_expired_reservation_returns_and_a_late_payment_is_refunded(
    shop: ShopBot,
) -> None:
    product_id = await stock_product(shop, 1)
    first, second = shop.chat(6101), shop.chat(6102)
    order = {"currency": "XTR", "total_amount": PRICE}
    first_payload = build_payload(product_id, first.user_id)
    second_payload = build_payload(product_id, second.user_id)

    assert (await first.pre_checkout(**order, payload=first_payload)).params["ok"] is True
    refused = await second.pre_checkout(**order, payload=second_payload)
    assert refused.params["ok"] is False and "sold out" in refused.params["error_message"]

    await expire_reservations(shop)
    assert (await second.pre_checkout(**order, payload=second_payload)).params["ok"] is True
    await second.pay(**order, payload=second_payload, charge_id="second-1")
    mark = shop.telegram.mark()
    await first.pay(**order, payload=first_payload, charge_id="first-1")

    [refund] = refunds(shop, mark)
    assert refund.params == {"user_id": first.user_id, "telegram_payment_charge_id": "first-1"}
    [told] = texts(first.calls_since(mark))
    assert "refunded" in told and "25 ⭐" in told
    [notice] = texts(shop.chat(ADMIN).calls_since(mark))
    assert "first-1" in notice and "it was refunded" in notice
    [purchase] = await shop.rows(Purchase)
    assert purchase.charge_id == "second-1"
    [unit] = await sold_units(shop)
    assert (unit.purchase_id, unit.reserved_for) == (purchase.id, second.user_id)


async def test_the_sweep_returns_expired_reservations_to_stock(shop: ShopBot) -> None:
    product_id = await stock_product(shop, 2)
    buyer = shop.chat(6201)
    payload = build_payload(product_id, buyer.user_id)
    await buyer.pre_checkout(currency="XTR", total_amount=PRICE, payload=payload)
    sweep = ReservationSweep(shop_transactions(shop.engine))

    assert await sweep.sweep() == 0  # still held
    await expire_reservations(shop)
    assert await sweep.sweep() == 1

    assert await shop.rows(StockUnit, StockUnit.state == UNIT_RESERVED) == []


async def test_a_refund_telegram_refuses_leaves_it_to_the_admins(shop: ShopBot) -> None:
    product_id = await stock_product(shop, 0)
    buyer = shop.chat(6301)
    shop.telegram.set_failure(
        "refundStarPayment", error_code=400, description="Bad Request: CHARGE_NOT_FOUND"
    )
    mark = shop.telegram.mark()

    await buyer.pay(
        currency="XTR",
        total_amount=PRICE,
        payload=build_payload(product_id, buyer.user_id),
        charge_id="gone-1",
    )

    [told] = texts(buyer.calls_since(mark))
    assert "will refund you" in told
    [notice] = texts(shop.chat(ADMIN).calls_since(mark))
    assert "gone-1" in notice and "refund it by hand" in notice
    assert await shop.rows(Purchase) == []


# ---------------------------------------------------------------------------- the customer


async def test_the_catalog_shows_stock_and_a_sold_out_product_cannot_be_bought(
    shop: ShopBot,
) -> None:
    product_id = await stock_product(shop, 3)
    buyer = shop.chat(6401)
    category = await buyer.tap(await buyer.tap(await buyer.send("/start"), "Catalog"), "Keys")
    assert category.labels[0] == "Game key — 25 ⭐ (3 in stock)"
    card = await buyer.tap(category, "Game key")
    assert "Stock: 3 in stock" in card.text

    await shop.run(
        lambda session: session.execute(
            update(StockUnit).where(StockUnit.product_id == product_id).values(state=UNIT_SOLD)
        )
    )
    pressed = await buyer.press(card.button("Buy"))

    assert pressed.notice == "Sorry, this product is sold out; please look again later."
    assert pressed.of("sendInvoice") == []
    category = await buyer.tap(await buyer.tap(await buyer.send("/start"), "Catalog"), "Keys")
    assert category.labels[0] == "Game key — 25 ⭐ (sold out)"


async def test_each_purchase_delivers_its_own_unit_again(shop: ShopBot) -> None:
    product_id = await stock_product(shop, 5)
    buyer = shop.chat(6501)
    payload = build_payload(product_id, buyer.user_id)
    for charge in ("one", "two"):
        await buyer.pre_checkout(currency="XTR", total_amount=PRICE, payload=payload)
        await buyer.pay(currency="XTR", total_amount=PRICE, payload=payload, charge_id=charge)
    delivered = [text for text in texts(buyer.calls_since(0)) if text.startswith("KEY-")]
    assert delivered == ["KEY-0001", "KEY-0002"]

    mine = await buyer.tap(await buyer.send("/start"), "My purchases")
    again = []
    for label_button in [data for label, data in mine.buttons if "Game key" in label]:
        pressed = await buyer.press(label_button)
        again += [text for text in texts(pressed.calls) if text.startswith("KEY-")]

    assert again == ["KEY-0002", "KEY-0001"]  # newest first, each its own unit


# ---------------------------------------------------------------------------- the admin


async def admin_products(admin: Chat) -> Screen:
    return await admin.tap(await admin.tap(await admin.send("/start"), "Admin panel"), "Products")


async def test_the_admin_makes_a_stock_product_and_loads_units_from_a_document(
    shop: ShopBot,
) -> None:
    await shop.add_product("Keys", name="Placeholder", price=5, currency="XTR")
    admin = shop.chat(ADMIN)
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    await admin.tap(panel, "Add product")
    await admin.send("Game key")
    pick = await admin.send("One key per buyer")
    await admin.tap(pick, "Keys")
    await admin.send("25")
    await admin.send("/skip")  # no photo
    content_step = await admin.send("/skip")  # no file
    summary = (await admin.press(content_step.button("Stock product"))).screen
    assert "Kind: 📦 stock" in summary.text
    assert "saved" in (await admin.tap(summary, "Save")).text
    [product] = await shop.rows(Product, Product.name == "Game key")
    assert (product.kind, product.hidden_content) == (KIND_STOCK, "")

    lines = [f"KEY-{n:05d}" for n in range(1, 1001)] + ["KEY-00001", "", "KEY-00002"]
    shop.telegram.add_file("UNITS-1", "\n".join(lines).encode())
    products = await admin.tap(
        await admin.tap(await admin.send("/start"), "Admin panel"), "Products"
    )
    view = await admin.tap(products, "Game key")
    asked = await admin.tap(view, "Add units")
    assert ".txt/.csv document" in asked.text
    reply = await admin.send_document("UNITS-1", file_name="keys.txt")

    assert "added 1000, skipped 2 duplicates, skipped 1 blank line" in reply.text
    assert "1000 available, 0 reserved, 0 sold" in reply.text

    await admin.press(reply.button("Add units"))
    reply = await admin.send("KEY-00003\nNEW-1\nNEW-2")
    assert "added 2, skipped 1 duplicate." in reply.text

    removed = (await admin.press(reply.button("Remove unsold"))).screen
    assert "Removed 1002 unsold units" in removed.text
    assert "0 available, 0 reserved, 0 sold" in removed.text


async def test_a_document_that_is_not_a_text_file_is_refused(shop: ShopBot) -> None:
    await stock_product(shop, 0)
    admin = shop.chat(ADMIN)
    products = await admin.tap(
        await admin.tap(await admin.send("/start"), "Admin panel"), "Products"
    )
    await admin.tap(await admin.tap(products, "Game key"), "Add units")
    shop.telegram.add_file("PIC-1", b"\x89PNG")

    reply = await admin.send_document("PIC-1", file_name="photo.png")

    assert reply.text.startswith("Send a .txt or .csv file")
    assert await shop.rows(StockUnit) == []
