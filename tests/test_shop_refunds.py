"""Refunds, in-process through the real dispatcher on SQLite and PostgreSQL: an admin refunds
a Stars purchase from `/purchase <id>` (refundStarPayment with the buyer and the charge), which
then counts in no statistics and delivers no more; twice is refused, a provider purchase and a
non-admin are refused; Telegram's `refunded_payment` update marks a purchase once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import KIND_STOCK, UNIT_SOLD, Purchase, StockUnit, User
from bot.keyboards.callbacks import AdminPurchase, PurchaseAction, Redeliver
from bot.shop import Shop
from bot.shop.invoices import build_payload
from bot.shop.stock import load_units
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import STALE, Chat, Screen, ShopBot, running_shop, texts

ADMIN, BUYER, INTRUDER = 9001, 5001, 6666
PRICE = 25
SECRET = "the secret content"


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


async def bought(shop: ShopBot, charge_id: str = "charge-1", **product: Any) -> Purchase:
    """A Stars product bought by BUYER through the bot; the purchase."""
    fields = {"name": "E-book", "price": PRICE, "currency": "XTR", "hidden_content": SECRET}
    product_id = await shop.add_product(f"Books {charge_id}", **{**fields, **product})
    if product.get("kind") == KIND_STOCK:
        await shop.run(lambda session: load_units(Shop.on(session), product_id, "KEY-1\nKEY-2"))
        buyer = shop.chat(BUYER)
        payload = build_payload(product_id, BUYER)
        await buyer.pre_checkout(currency="XTR", total_amount=PRICE, payload=payload)
    await shop.chat(BUYER).pay(
        currency="XTR",
        total_amount=PRICE,
        payload=build_payload(product_id, BUYER),
        charge_id=charge_id,
    )
    [purchase] = await shop.rows(Purchase, Purchase.charge_id == charge_id)
    return purchase


def refund_calls(shop: ShopBot) -> list[Call]:
    return shop.telegram.calls_of("refundStarPayment")


def confirm(purchase_id: int) -> str:
    return AdminPurchase(action=PurchaseAction.CONFIRM_REFUND, purchase_id=purchase_id).pack()


async def refund_from_lookup(admin: Chat, purchase_id: int) -> Screen:
    card = await admin.send(f"/purchase {purchase_id}")
    question = await admin.tap(card, "Refund")
    return await admin.tap(question, "Yes, refund")


async def refunded_at(shop: ShopBot, purchase_id: int) -> Any:
    [purchase] = await shop.rows(Purchase, Purchase.id == purchase_id)
    return purchase.refunded_at


async def test_admin_refunds_a_stars_purchase_which_then_counts_and_delivers_no_more(
    shop: ShopBot,
) -> None:
    purchase = await bought(shop)
    admin, buyer = shop.chat(ADMIN), shop.chat(BUYER)

    done = await refund_from_lookup(admin, purchase.id)

    assert f"Purchase #{purchase.id} refunded" in done.text
    [call] = refund_calls(shop)
    assert call.params == {"user_id": BUYER, "telegram_payment_charge_id": "charge-1"}
    assert await refunded_at(shop, purchase.id) is not None
    assert any("has been refunded" in text for text in texts(shop.telegram.calls_of("sendMessage")))

    panel = await admin.send("/start")
    stats = await admin.tap(await admin.tap(panel, "Admin panel"), "Statistics")
    assert "<b>All time</b>: 0 purchases" in stats.text

    again = Redeliver(product_id=purchase.product_id, purchase_id=purchase.id).pack()
    pressed = await buyer.press(again)
    assert pressed.notice == STALE
    assert not any(SECRET in text for text in texts(pressed.calls))
    mine = await buyer.tap(await buyer.send("/start"), "My purchases")
    assert "refunded" in mine.text
    assert not any(label.startswith("📦") for label in mine.labels)


async def test_refunding_twice_is_refused_and_calls_telegram_once(shop: ShopBot) -> None:
    purchase = await bought(shop)
    admin = shop.chat(ADMIN)
    await refund_from_lookup(admin, purchase.id)
    first = await refunded_at(shop, purchase.id)

    card = await admin.send(f"/purchase {purchase.id}")
    pressed = await admin.press(confirm(purchase.id))  # the old confirmation, pressed again

    assert "already refunded" in card.text
    assert "↩️ Refund" not in card.labels
    assert pressed.notice is not None and "already refunded" in pressed.notice
    assert len(refund_calls(shop)) == 1
    assert await refunded_at(shop, purchase.id) == first


async def test_a_refunded_stock_unit_stays_sold_and_is_not_delivered_again(
    shop: ShopBot,
) -> None:
    purchase = await bought(shop, kind=KIND_STOCK, hidden_content="")
    [unit] = await shop.rows(StockUnit, StockUnit.purchase_id == purchase.id)

    await refund_from_lookup(shop.chat(ADMIN), purchase.id)

    [after] = await shop.rows(StockUnit, StockUnit.id == unit.id)
    assert (after.state, after.purchase_id) == (UNIT_SOLD, purchase.id)
    again = Redeliver(product_id=purchase.product_id, purchase_id=purchase.id).pack()
    pressed = await shop.chat(BUYER).press(again)
    assert not any(unit.content in text for text in texts(pressed.calls))


async def test_a_provider_purchase_is_not_refunded_by_the_bot(shop: ShopBot) -> None:
    product_id = await shop.add_product("Cards", name="Course", price=19999, currency="RUB")

    async def paid_by_card(session: AsyncSession) -> int:
        purchase = Purchase(
            user=User(telegram_id=BUYER, first_name="Card"),
            product_id=product_id,
            amount=19999,
            currency="RUB",
            provider="provider",
            charge_id="card-charge",
            provider_charge_id="provider-card-charge",
        )
        session.add(purchase)
        await session.flush()
        return purchase.id

    purchase_id = await shop.run(paid_by_card)
    admin = shop.chat(ADMIN)

    card = await admin.send(f"/purchase {purchase_id}")
    pressed = await admin.press(confirm(purchase_id))

    assert "payment provider" in card.text and "↩️ Refund" not in card.labels
    assert pressed.notice is not None and "provider's dashboard" in pressed.notice
    assert refund_calls(shop) == []
    assert await refunded_at(shop, purchase_id) is None


async def test_a_non_admin_cannot_look_up_or_refund(shop: ShopBot) -> None:
    purchase = await bought(shop)
    intruder = shop.chat(INTRUDER)
    mark = shop.telegram.mark()

    await shop.feed(shop.telegram.text_update(INTRUDER, f"/purchase {purchase.id}"))
    pressed = await intruder.press(confirm(purchase.id))

    assert not any("Purchase #" in text for text in texts(intruder.calls_since(mark)))
    assert pressed.notice == STALE
    assert refund_calls(shop) == []
    assert await refunded_at(shop, purchase.id) is None


def refunded_payment(shop: ShopBot, charge_id: str) -> dict[str, Any]:
    """Telegram's service message telling of a Stars refund in the buyer's chat."""
    return shop.telegram.refund_update(BUYER, charge_id=charge_id, total_amount=PRICE)


async def test_a_refunded_payment_update_marks_the_purchase_once(shop: ShopBot) -> None:
    purchase = await bought(shop)
    other = await bought(shop, charge_id="charge-2", name="Other book")

    await shop.feed(refunded_payment(shop, "charge-1"))
    first = await refunded_at(shop, purchase.id)
    await shop.feed(refunded_payment(shop, "charge-1"), refunded_payment(shop, "unknown"))

    assert first is not None
    assert await refunded_at(shop, purchase.id) == first
    assert await refunded_at(shop, other.id) is None
    marked = [line for line in shop.log if "marked refunded" in line]
    assert len(marked) == 1
    card = await shop.chat(ADMIN).send(f"/purchase {purchase.id}")
    assert "already refunded" in card.text
