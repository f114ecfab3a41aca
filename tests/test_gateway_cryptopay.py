"""Crypto Pay, in-process on SQLite and PostgreSQL against a stand-in of its API
(tests/fakes/cryptopay.py): Buy → "Pay with crypto" → an invoice with the order's number in
its payload and the accepted assets; the webhook on the bot's callback server, signed with
the SHA-256 of the token, records and delivers once (a replay too); a forged signature or a
tampered body gets 400 and records nothing; a webhook that never comes is caught by the
background check; a refused token leaves no order open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.dao.models import ORDER_CREATED, ORDER_EXPIRED, ORDER_PAID, Order, PromoUse, Purchase
from bot.keyboards.callbacks import Buy, EnterPromo
from bot.workers.gateway_checks import EXPIRY_GRACE, check_gateways
from tests.fakes import Call
from tests.fakes.cryptopay import FakeCryptoPay
from tests.support.databases import ThrowawayDatabase
from tests.support.gateways import callback_server, gateway_shop, gateways_of, orders
from tests.support.shop import Chat, ShopBot, texts

BUYER, ADMIN = 5201, 9201
TOKEN = "7777:AAcryptoPayTestToken"
PRICE = 49_900  # 499.00 RUB
CONTENT = "crypto-licence-42"
WEBHOOK = "/payments/cryptopay/webhook"
SIGNATURE = "crypto-pay-api-signature"


@pytest.fixture
async def cryptopay() -> AsyncIterator[FakeCryptoPay]:
    async with FakeCryptoPay(TOKEN) as fake:
        yield fake


def crypto_settings(fake: FakeCryptoPay, token: str = TOKEN) -> dict[str, Any]:
    return {
        "admin_ids": str(ADMIN),
        "cryptopay_token": token,
        "cryptopay_api_url": fake.url,
        "cryptopay_assets": "USDT,TON",
        "payments_http_port": 18081,
    }


@pytest.fixture
async def shop(database: ThrowawayDatabase, cryptopay: FakeCryptoPay) -> AsyncIterator[ShopBot]:
    async with gateway_shop(database, **crypto_settings(cryptopay)) as running:
        yield running


async def rub_product(shop: ShopBot) -> int:
    return await shop.add_product(
        "Licences", name="Crypto licence", price=PRICE, currency="RUB", hidden_content=CONTENT
    )


async def pay_with_crypto(chat: Chat, product_id: int) -> Call:
    """Buy, then "Pay with crypto": the bot's answer (a link, or an alert)."""
    options = await chat.press(Buy(product_id=product_id).pack())
    [offered] = options.of("sendMessage")
    [[button]] = offered.params["reply_markup"]["inline_keyboard"]
    assert button["text"] == "🪙 Pay with crypto"
    pressed = await chat.press(button["callback_data"])
    links = pressed.of("sendMessage")
    return links[0] if links else pressed.answer


def delivered(shop: ShopBot, mark: int) -> list[str]:
    return [text for text in texts(shop.telegram.calls[mark:]) if CONTENT in text]


async def test_buy_creates_an_invoice_naming_the_order(
    shop: ShopBot, cryptopay: FakeCryptoPay
) -> None:
    link = await pay_with_crypto(shop.chat(BUYER), await rub_product(shop))
    [order] = await orders(shop)
    [(method, params)] = cryptopay.calls
    assert method == "createInvoice"
    assert params == {
        "currency_type": "fiat",
        "fiat": "RUB",
        "amount": "499.00",
        "accepted_assets": "USDT,TON",
        "description": f"#{order.id} Crypto licence",
        "payload": str(order.id),
        "expires_in": 30 * 60,
    }
    [invoice_id] = cryptopay.invoices
    assert (order.provider, order.external_id, order.state) == (
        "cryptopay",
        str(invoice_id),
        ORDER_CREATED,
    )
    [[button]] = link.params["reply_markup"]["inline_keyboard"]
    assert button["url"] == f"https://t.me/CryptoTestnetBot?start=IV{invoice_id}"
    assert "Crypto Pay confirms the payment" in link.params["text"]


async def test_a_signed_webhook_delivers_once_and_a_replay_changes_nothing(
    shop: ShopBot, cryptopay: FakeCryptoPay
) -> None:
    await pay_with_crypto(shop.chat(BUYER), await rub_product(shop))
    [invoice_id] = cryptopay.invoices
    body = cryptopay.pay(invoice_id)
    mark = shop.telegram.mark()
    async with callback_server(shop) as client:
        for _ in range(2):
            answer = await client.post(
                WEBHOOK, data=body, headers={SIGNATURE: cryptopay.sign(body)}
            )
            assert (answer.status, await answer.text()) == (200, "ok")
    [purchase] = await shop.rows(Purchase)
    assert (purchase.provider, purchase.charge_id, purchase.amount, purchase.currency) == (
        "cryptopay",
        f"cryptopay:{invoice_id}",
        PRICE,
        "RUB",
    )
    [order] = await orders(shop)
    assert (order.state, order.purchase_id) == (ORDER_PAID, purchase.id)
    assert len(delivered(shop, mark)) == 1
    assert not [line for line in shop.log if TOKEN in line]


@pytest.mark.parametrize("forgery", ["other token", "no signature", "tampered amount"])
async def test_a_forged_webhook_is_refused_and_records_nothing(
    shop: ShopBot, cryptopay: FakeCryptoPay, forgery: str
) -> None:
    await pay_with_crypto(shop.chat(BUYER), await rub_product(shop))
    [invoice_id] = cryptopay.invoices
    body = cryptopay.pay(invoice_id, amount="1.00" if forgery == "tampered amount" else None)
    headers = {
        "other token": {SIGNATURE: cryptopay.sign(body, token="1:another-app")},
        "no signature": {},
        # Signed properly, so only the sum check stands between it and a sale.
        "tampered amount": {SIGNATURE: cryptopay.sign(body)},
    }[forgery]
    async with callback_server(shop) as client:
        answer = await client.post(WEBHOOK, data=body, headers=headers)
        assert answer.status == 400
    assert await shop.rows(Purchase) == []
    assert [order.state for order in await orders(shop)] == [ORDER_CREATED]
    assert [line for line in shop.log if "Crypto Pay webhook refused" in line]


async def test_a_lost_webhook_is_caught_by_the_check(
    shop: ShopBot, cryptopay: FakeCryptoPay
) -> None:
    await pay_with_crypto(shop.chat(BUYER), await rub_product(shop))
    [invoice_id] = cryptopay.invoices
    gateways = gateways_of(shop)
    await check_gateways(gateways, shop.bot)  # not paid yet
    assert await shop.rows(Purchase) == []
    cryptopay.pay(invoice_id)  # the webhook never comes
    mark = shop.telegram.mark()
    await check_gateways(gateways, shop.bot)
    await check_gateways(gateways, shop.bot)  # and again: nothing more
    assert len(await shop.rows(Purchase)) == 1
    assert [order.state for order in await orders(shop)] == [ORDER_PAID]
    assert len(delivered(shop, mark)) == 1
    assert ("getInvoices", {"invoice_ids": str(invoice_id), "count": 1}) in cryptopay.calls
    # Then the webhook does come after all: delivered once still.
    body = cryptopay.pay(invoice_id)
    async with callback_server(shop) as client:
        answer = await client.post(WEBHOOK, data=body, headers={SIGNATURE: cryptopay.sign(body)})
        assert answer.status == 200
    assert len(delivered(shop, mark)) == 1


async def test_an_outage_expires_nothing_it_could_not_look_at(
    shop: ShopBot, cryptopay: FakeCryptoPay
) -> None:
    """While Crypto Pay is down its orders are not expired: one may have been paid."""
    await pay_with_crypto(shop.chat(BUYER), await rub_product(shop))
    past = datetime.now(UTC) - EXPIRY_GRACE - timedelta(seconds=1)
    await shop.run(lambda session: session.execute(update(Order).values(expires_at=past)))
    cryptopay.down = True
    await check_gateways(gateways_of(shop), shop.bot)
    assert [order.state for order in await orders(shop)] == [ORDER_CREATED]
    cryptopay.down = False
    await check_gateways(gateways_of(shop), shop.bot)
    assert [order.state for order in await orders(shop)] == [ORDER_EXPIRED]


async def test_a_refused_token_leaves_no_order_open(
    database: ThrowawayDatabase, cryptopay: FakeCryptoPay
) -> None:
    async with gateway_shop(database, **crypto_settings(cryptopay, "1:wrong-token")) as shop:
        answer = await pay_with_crypto(shop.chat(BUYER), await rub_product(shop))
        assert answer.method == "answerCallbackQuery"
        assert "not available right now" in answer.params["text"]
        assert [order.state for order in await orders(shop)] == [ORDER_EXPIRED]
        assert not cryptopay.invoices
        refusals = [line for line in shop.log if "UNAUTHORIZED" in line]
        assert refusals and not [line for line in shop.log if "wrong-token" in line]


async def test_a_refused_invoice_gives_the_promo_codes_held_use_back(
    database: ThrowawayDatabase, cryptopay: FakeCryptoPay
) -> None:
    async with gateway_shop(database, **crypto_settings(cryptopay, "1:wrong-token")) as shop:
        product_id = await rub_product(shop)
        await shop.chat(ADMIN).send("/promo_new LAST 10% uses=1")
        buyer = shop.chat(BUYER)
        await buyer.send("/start")
        await buyer.press(EnterPromo(product_id=product_id).pack())
        card = await buyer.send("last")
        [offered] = (await buyer.press(card.button("Buy"))).of("sendMessage")
        [[button]] = offered.params["reply_markup"]["inline_keyboard"]

        answer = (await buyer.press(button["callback_data"])).answer

        assert "not available right now" in answer.params["text"]
        [order] = await orders(shop)
        assert (order.state, order.amount) == (ORDER_EXPIRED, 44_910)
        assert await shop.rows(PromoUse) == []  # the code's one use is free again
