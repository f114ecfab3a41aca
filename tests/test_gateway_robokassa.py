"""Robokassa, in-process on SQLite and PostgreSQL: Buy → the ways to pay → an order with its
own number and a signed payment link; the Result URL on the bot's callback server, signed as
Robokassa signs it with each hash algorithm, records and delivers once (a replay answers OK
again); a wrong signature, a tampered sum, an unknown order get 400 and record nothing;
concurrent buyers get distinct numbers; an unpaid order expires and frees its unit; the
Success and Fail pages, and the bot's line to the buyer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.dao.models import (
    KIND_STOCK,
    ORDER_CREATED,
    ORDER_EXPIRED,
    ORDER_PAID,
    UNIT_AVAILABLE,
    UNIT_RESERVED,
    Order,
    PromoUse,
    Purchase,
    StockUnit,
)
from bot.keyboards.callbacks import Buy, EnterPromo
from bot.shop import Shop
from bot.shop.stock import load_units
from bot.workers.gateway_checks import EXPIRY_GRACE, check_gateways
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.gateways import (
    ROBOKASSA,
    SECRETS,
    callback_server,
    gateway_shop,
    gateways_of,
    link_params,
    orders,
    result_params,
    robokassa_sign,
)
from tests.support.processes import TEST_TOKEN
from tests.support.shop import Chat, ShopBot, texts

BUYER, ADMIN = 5101, 9101
PRICE = 15_000  # 150.00 RUB
CONTENT = "licence-key-777"


def robokassa_shop(
    database: ThrowawayDatabase, **settings: Any
) -> AbstractAsyncContextManager[ShopBot]:
    return gateway_shop(
        database, admin_ids=str(ADMIN), robokassa_test_mode=True, **ROBOKASSA, **settings
    )


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with robokassa_shop(database) as running:
        yield running


async def rub_product(shop: ShopBot, **fields: Any) -> int:
    return await shop.add_product(
        "Licences",
        name="Editor licence",
        price=PRICE,
        currency="RUB",
        hidden_content=CONTENT,
        **fields,
    )


async def order_by_card(chat: Chat, product_id: int) -> Call:
    """Buy, then "Pay by card (Robokassa)"; the message with the payment link."""
    options = await chat.press(Buy(product_id=product_id).pack())
    [offered] = options.of("sendMessage")
    labels = [b["text"] for [b] in offered.params["reply_markup"]["inline_keyboard"]]
    assert labels == ["💳 Pay by card (Robokassa)"]  # no provider token: no Telegram option
    data = offered.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    pressed = await chat.press(data)
    [link] = pressed.of("sendMessage")
    return link


async def test_buy_gives_an_order_and_a_signed_payment_link(shop: ShopBot) -> None:
    product_id = await rub_product(shop)
    link = await order_by_card(shop.chat(BUYER), product_id)
    [order] = await orders(shop)
    assert (order.provider, order.state, order.amount, order.currency) == (
        "robokassa",
        ORDER_CREATED,
        PRICE,
        "RUB",
    )
    assert order.external_id == str(order.id)
    assert f"Order #{order.id}: <b>Editor licence</b>, 150.00 RUB." in link.params["text"]
    params = link_params(link)
    shp = {"Shp_product": str(product_id), "Shp_user": str(BUYER)}
    assert params == {
        "MerchantLogin": "demo-shop",
        "OutSum": "150.00",
        "InvId": str(order.id),
        "Description": f"#{order.id} Editor licence",
        "SignatureValue": robokassa_sign(
            "md5", "demo-shop", "150.00", order.id, "first-Pa55word", shp=shp
        ).lower(),
        "IsTest": "1",
        **shp,
    }


@pytest.mark.parametrize("hash_name", ["md5", "sha256", "sha512"])
async def test_result_url_records_once_and_delivers_once(
    database: ThrowawayDatabase, hash_name: str
) -> None:
    async with robokassa_shop(database, robokassa_hash=hash_name) as shop:
        product_id = await rub_product(shop)
        await order_by_card(shop.chat(BUYER), product_id)
        [order] = await orders(shop)
        mark = shop.telegram.mark()
        params = result_params(order, BUYER, algorithm=hash_name)
        async with callback_server(shop) as client:
            answers = [await client.post("/payments/robokassa/result", data=params)]
            answers.append(await client.get("/payments/robokassa/result", params=params))
            bodies = [(answer.status, await answer.text()) for answer in answers]
        assert bodies == [(200, f"OK{order.id}")] * 2
        [purchase] = await shop.rows(Purchase)
        assert (purchase.provider, purchase.charge_id, purchase.amount) == (
            "robokassa",
            f"robokassa:{order.id}",
            PRICE,
        )
        [paid] = await orders(shop)
        assert (paid.state, paid.purchase_id) == (ORDER_PAID, purchase.id)
        delivered = [text for text in texts(shop.telegram.calls[mark:]) if CONTENT in text]
        assert len(delivered) == 1
        notices = [text for text in texts(shop.chat(ADMIN).calls_since(mark)) if "💰" in text]
        assert len(notices) == 1
        assert not [line for line in shop.log for secret in SECRETS if secret in line]


@pytest.mark.parametrize(
    "forgery",
    ["wrong password", "tampered sum", "unknown order", "wrong sum signed", "other buyer"],
)
async def test_a_forged_or_wrong_result_is_refused_and_records_nothing(
    shop: ShopBot, forgery: str
) -> None:
    product_id = await rub_product(shop)
    await order_by_card(shop.chat(BUYER), product_id)
    [order] = await orders(shop)
    params = {
        "wrong password": lambda: result_params(order, BUYER, password="first-Pa55word"),
        "tampered sum": lambda: {**result_params(order, BUYER), "OutSum": "1.000000"},
        "unknown order": lambda: result_params(order, BUYER, inv_id=order.id + 1000),
        "wrong sum signed": lambda: result_params(order, BUYER, out_sum="1.000000"),
        "other buyer": lambda: result_params(order, BUYER + 1),
    }[forgery]()
    async with callback_server(shop) as client:
        answer = await client.post("/payments/robokassa/result", data=params)
        assert (answer.status, await answer.text()) == (400, "refused")
    assert await shop.rows(Purchase) == []
    [unpaid] = await orders(shop)
    assert unpaid.state == ORDER_CREATED
    refusals = [line for line in shop.log if "Result URL refused" in line]
    assert len(refusals) == 1
    assert not [line for line in shop.log for secret in SECRETS if secret in line]


async def test_concurrent_buyers_get_distinct_invoice_numbers(shop: ShopBot) -> None:
    product_id = await rub_product(shop)
    buyers = range(6000, 6020)
    await shop.feed(
        *(shop.telegram.button_update(buyer, Buy(product_id=product_id).pack()) for buyer in buyers)
    )
    data = f"pay:{product_id}:robokassa"
    await shop.feed(*(shop.telegram.button_update(buyer, data) for buyer in buyers))
    placed = await orders(shop)
    assert len(placed) == 20
    assert len({order.id for order in placed}) == 20
    links = [
        call for call in shop.telegram.calls_of("sendMessage") if "reply_markup" in call.params
    ]
    numbers = {
        link_params(call)["InvId"]
        for call in links
        if "url" in call.params["reply_markup"]["inline_keyboard"][0][0]
    }
    assert numbers == {str(order.id) for order in placed}


async def test_an_unpaid_order_expires_and_frees_its_unit(shop: ShopBot) -> None:
    product_id = await rub_product(shop, kind=KIND_STOCK)
    await shop.run(lambda session: load_units(Shop.on(session), product_id, "UNIT-1"))
    await order_by_card(shop.chat(BUYER), product_id)
    [unit] = await shop.rows(StockUnit)
    assert (unit.state, unit.reserved_for) == (UNIT_RESERVED, BUYER)
    # The only unit is held: another buyer finds the product sold out.
    other = await shop.chat(BUYER + 1).press(Buy(product_id=product_id).pack())
    assert other.notice is not None and "sold out" in other.notice

    await check_gateways(gateways_of(shop), shop.bot)  # not due yet: nothing changes
    assert [order.state for order in await orders(shop)] == [ORDER_CREATED]
    past = datetime.now(UTC) - EXPIRY_GRACE - timedelta(seconds=1)
    await shop.run(lambda session: session.execute(update(Order).values(expires_at=past)))
    await check_gateways(gateways_of(shop), shop.bot)
    assert [order.state for order in await orders(shop)] == [ORDER_EXPIRED]
    [unit] = await shop.rows(StockUnit)
    assert (unit.state, unit.reserved_for) == (UNIT_AVAILABLE, None)


async def test_a_late_payment_of_an_expired_order_is_still_taken(shop: ShopBot) -> None:
    """The money moved: the order becomes paid and the goods go out."""
    product_id = await rub_product(shop)
    await order_by_card(shop.chat(BUYER), product_id)
    past = datetime.now(UTC) - EXPIRY_GRACE - timedelta(seconds=1)
    await shop.run(lambda session: session.execute(update(Order).values(expires_at=past)))
    await check_gateways(gateways_of(shop), shop.bot)
    [order] = await orders(shop)
    async with callback_server(shop) as client:
        answer = await client.post("/payments/robokassa/result", data=result_params(order, BUYER))
        assert answer.status == 200
    assert [order.state for order in await orders(shop)] == [ORDER_PAID]


async def test_success_and_fail_pages_and_the_buyers_line(shop: ShopBot) -> None:
    product_id = await rub_product(shop)
    await order_by_card(shop.chat(BUYER), product_id)
    [order] = await orders(shop)
    chat = shop.chat(BUYER)
    out_sum = "150.000000"
    signature = robokassa_sign("md5", out_sum, order.id, "first-Pa55word", shp={})
    async with callback_server(shop) as client:
        mark = shop.telegram.mark()
        success = await client.get(
            "/payments/robokassa/success",
            params={"OutSum": out_sum, "InvId": str(order.id), "SignatureValue": signature},
        )
        assert success.status == 200
        assert "Your payment is accepted" in await success.text()
        [line] = texts(chat.calls_since(mark))
        assert f"accepted your payment for order #{order.id}" in line

        forged = await client.get(
            "/payments/robokassa/success",
            params={"OutSum": out_sum, "InvId": str(order.id), "SignatureValue": "0" * 32},
        )
        assert forged.status == 400

        mark = shop.telegram.mark()
        fail = await client.post(
            "/payments/robokassa/fail", data={"OutSum": out_sum, "InvId": str(order.id)}
        )
        assert fail.status == 200
        assert "not completed" in await fail.text()
        [line] = texts(chat.calls_since(mark))
        assert f"order #{order.id} was not completed" in line
    assert await shop.rows(Purchase) == []


async def test_callbacks_wait_for_the_schema_and_hold_no_token(shop: ShopBot) -> None:
    async with callback_server(shop) as client:
        paths = {route.resource.canonical for route in client.app.router.routes()}  # type: ignore[union-attr]
        assert paths == {
            "/payments/robokassa/result",
            "/payments/robokassa/success",
            "/payments/robokassa/fail",
        }
        assert not [path for path in paths if TEST_TOKEN.split(":")[1] in path]
        shop.dispatcher["readiness"].schema = "waiting"
        answer = await client.post("/payments/robokassa/result", data={})
        assert answer.status == 503


async def test_stars_products_keep_the_direct_invoice(shop: ShopBot) -> None:
    """Robokassa takes roubles: a product in Stars still gets its Telegram invoice at once."""
    product_id = await shop.add_product("Stars", name="Sticker", price=5, currency="XTR")
    pressed = await shop.chat(BUYER).press(Buy(product_id=product_id).pack())
    assert len(pressed.of("sendInvoice")) == 1


async def test_robokassa_payments_count_in_the_statistics(shop: ShopBot) -> None:
    product_id = await rub_product(shop)
    await order_by_card(shop.chat(BUYER), product_id)
    [order] = await orders(shop)
    async with callback_server(shop) as client:
        await client.post("/payments/robokassa/result", data=result_params(order, BUYER))
    stats = await shop.chat(ADMIN).press("adm:stats")
    assert "via Robokassa" in stats.screen.text


async def test_callbacks_at_once_deliver_once(shop: ShopBot) -> None:
    product_id = await rub_product(shop)
    await order_by_card(shop.chat(BUYER), product_id)
    [order] = await orders(shop)
    mark = shop.telegram.mark()
    async with callback_server(shop) as client:
        answers = await asyncio.gather(
            *(
                client.post("/payments/robokassa/result", data=result_params(order, BUYER))
                for _ in range(5)
            )
        )
        assert [answer.status for answer in answers] == [200] * 5
    assert len(await shop.rows(Purchase)) == 1
    delivered = [text for text in texts(shop.telegram.calls[mark:]) if CONTENT in text]
    assert len(delivered) == 1


async def test_admins_find_an_order_by_its_number(shop: ShopBot) -> None:
    product_id = await rub_product(shop)
    await order_by_card(shop.chat(BUYER), product_id)
    [order] = await orders(shop)
    admin = shop.chat(ADMIN)
    card = await admin.send(f"/order {order.id}")
    assert f"Order #{order.id}</b> via Robokassa: awaiting payment" in card.text
    assert "Product: Editor licence" in card.text
    async with callback_server(shop) as client:
        await client.post("/payments/robokassa/result", data=result_params(order, BUYER))
    [purchase] = await shop.rows(Purchase)
    card = await admin.send(f"/order #{order.id}")
    assert "via Robokassa: paid" in card.text
    assert f"purchase #{purchase.id}" in card.text
    assert (await admin.send("/order 999")).text == "There is no order #999."
    assert "Send /order and the order number" in (await admin.send("/order abc")).text
    # Not an admin: the command is nobody's business.
    mark = shop.telegram.mark()
    await shop.feed(shop.telegram.text_update(BUYER, f"/order {order.id}"))
    assert not [text for text in texts(shop.chat(BUYER).calls_since(mark)) if "Order #" in text]


async def test_a_russian_buyer_is_answered_in_russian(shop: ShopBot) -> None:
    """The ways to pay, the order, and the Fail page with the bot's line, in the buyer's
    language (stored at their first contact from their Telegram client's)."""
    shop.telegram.set_client_language(BUYER, "ru")
    product_id = await rub_product(shop)
    chat = shop.chat(BUYER)
    options = await chat.press(Buy(product_id=product_id).pack())
    [offered] = options.of("sendMessage")
    assert offered.params["text"].startswith("Как вы хотите оплатить")
    [[button]] = offered.params["reply_markup"]["inline_keyboard"]
    assert button["text"] == "💳 Оплатить картой (Robokassa)"
    [link] = (await chat.press(button["callback_data"])).of("sendMessage")
    [order] = await orders(shop)
    assert link.params["text"].startswith(f"🧾 Заказ #{order.id}")
    async with callback_server(shop) as client:
        mark = shop.telegram.mark()
        fail = await client.get("/payments/robokassa/fail", params={"InvId": str(order.id)})
        assert "Оплата не завершена" in await fail.text()
        [line] = texts(chat.calls_since(mark))
        assert line.startswith(f"Оплата заказа #{order.id} не завершена")


async def test_a_promo_code_makes_the_order_cheaper_and_its_payment_spends_the_use(
    shop: ShopBot,
) -> None:
    product_id = await rub_product(shop)
    admin = shop.chat(ADMIN)
    assert "Made" in (await admin.send("/promo_new RUB20 20% uses=1")).text
    buyer = shop.chat(BUYER)
    await buyer.send("/start")
    await buyer.press(EnterPromo(product_id=product_id).pack())
    card = await buyer.send("rub20")
    options = await buyer.press(card.button("Buy"))
    [offered] = options.of("sendMessage")
    assert "(120.00 RUB)" in offered.params["text"]
    [[pay_by_card]] = offered.params["reply_markup"]["inline_keyboard"]
    assert pay_by_card["callback_data"].startswith("payc:")

    link = (await buyer.press(pay_by_card["callback_data"])).of("sendMessage")[0]

    [order] = await orders(shop)
    assert (order.amount, link_params(link)["OutSum"]) == (12_000, "120.00")
    [held] = await shop.rows(PromoUse)
    assert held.purchase_id is None and held.held_until == order.expires_at
    # The use is held for the order: nobody else can have the last one meanwhile.
    other = shop.chat(BUYER + 1)
    await other.send("/start")
    await other.press(EnterPromo(product_id=product_id).pack())
    assert "used up" in (await other.send("RUB20")).text
    async with callback_server(shop) as client:
        answer = await client.post("/payments/robokassa/result", data=result_params(order, BUYER))
        assert answer.status == 200
    [purchase] = await shop.rows(Purchase)
    assert purchase.amount == 12_000
    [spent] = await shop.rows(PromoUse)
    assert (spent.purchase_id, spent.discount) == (purchase.id, 3_000)
