"""With a payment provider token, in-process on SQLite and PostgreSQL: the admin prices a
product in the configured currency (199.99 → 19999 minor units), the invoice carries that
currency and the token, the purchase is recorded as a provider payment, and a delivery that
Telegram refuses is neither lost nor a reason to skip the admins: the buyer gets the product
again from the profile. The token never reaches the log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Category, Product, Purchase
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import Chat, ShopBot, running_shop, texts

ADMIN, BUYER = 9001, 5001
TOKEN = "381764678:TEST:provider-secret-123"
CONTENT = "https://example.com/sql?key=abc"


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    settings = {
        "admin_ids": str(ADMIN),
        "payments_provider_token": TOKEN,
        "payments_currency": "rub",
    }
    async with running_shop(database, **settings) as running:
        yield running
    assert not [entry for entry in running.log if TOKEN in entry]


@pytest.fixture
async def course_id(shop: ShopBot) -> int:
    """SQL course in Courses: 199.99 RUB, no file."""

    async def add(session: AsyncSession) -> int:
        course = Product(
            category=Category(name="Courses"),
            name="SQL course",
            description="Ten lessons",
            price=19999,
            currency="RUB",
            hidden_content=CONTENT,
        )
        session.add(course)
        await session.flush()
        return course.id

    return await shop.run(add)


@pytest.fixture
def buyer(shop: ShopBot) -> Chat:
    return shop.chat(BUYER)


async def invoice(buyer: Chat) -> Call:
    catalog = await buyer.tap(await buyer.send("/start"), "Catalog")
    card = await buyer.tap(await buyer.tap(catalog, "Courses"), "SQL course")
    assert "Price: <b>199.99 RUB</b>" in card.text
    [sent] = (await buyer.press(card.button("Buy"))).of("sendInvoice")
    return sent


async def test_the_admin_prices_a_product_in_the_currency_s_minor_units(shop: ShopBot) -> None:
    admin = shop.chat(ADMIN)
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    await admin.tap(await admin.tap(panel, "Categories"), "Add category")
    await admin.send("Courses")
    await admin.tap(await admin.tap(await admin.send("/start"), "Admin panel"), "Add product")
    await admin.send("SQL course")
    pick = await admin.send("Ten lessons")

    assert "amount in RUB" in (await admin.tap(pick, "Courses")).text
    assert "at most 2 decimal places" in (await admin.send("199.999")).text
    await admin.send("199.99")
    await admin.send("/skip")  # no photo
    await admin.send("/skip")  # no file
    summary = await admin.send(CONTENT)
    assert "Price: 199.99 RUB" in summary.text and "File: none" in summary.text
    await admin.tap(summary, "Save")
    [product] = await shop.rows(Product)
    assert (product.price, product.currency, product.file_id) == (19999, "RUB", None)


async def test_the_invoice_carries_the_currency_and_the_provider_token(
    course_id: int, buyer: Chat
) -> None:
    sent = await invoice(buyer)

    assert (sent.params["currency"], sent.params["provider_token"]) == ("RUB", TOKEN)
    assert sent.params["prices"] == [{"label": "SQL course", "amount": 19999}]


async def test_pre_checkout_accepts_the_currency_and_refuses_stars(
    course_id: int, buyer: Chat
) -> None:
    payload = str((await invoice(buyer)).params["payload"])

    stars = await buyer.pre_checkout(currency="XTR", total_amount=19999, payload=payload)
    card = await buyer.pre_checkout(currency="RUB", total_amount=19999, payload=payload)

    assert (stars.params["ok"], card.params["ok"]) == (False, True)


@pytest.fixture
async def paid_but_blocked(shop: ShopBot, course_id: int, buyer: Chat) -> int:
    """Paid by card while the buyer's chat refuses the first message; the mark before it."""
    payload = str((await invoice(buyer)).params["payload"])
    shop.telegram.set_failure("sendMessage", error_code=403, description="Forbidden: blocked")
    mark = shop.telegram.mark()
    await buyer.pay(currency="RUB", total_amount=19999, payload=payload, charge_id="card-1")
    return mark


async def test_a_refused_delivery_keeps_the_purchase_and_still_tells_the_admin(
    shop: ShopBot, paid_but_blocked: int, buyer: Chat
) -> None:
    [purchase] = await shop.rows(Purchase)
    assert (purchase.provider, purchase.amount, purchase.currency) == ("provider", 19999, "RUB")
    assert (purchase.charge_id, purchase.provider_charge_id) == ("card-1", "provider-card-1")
    assert len(buyer.calls_since(paid_but_blocked)) == 1  # the refused message, nothing after it
    [notice] = texts(shop.chat(ADMIN).calls_since(paid_but_blocked))
    assert "199.99 RUB" in notice and "SQL course" in notice


async def test_after_a_refused_delivery_my_purchases_delivers_it_again(
    paid_but_blocked: int, buyer: Chat
) -> None:
    profile = await buyer.tap(await buyer.send("/start"), "My purchases")
    assert "Total spent: 199.99 RUB" in profile.text

    again = await buyer.press(profile.button("SQL course"))

    assert texts(again.calls) == ["📦 Here is <b>SQL course</b>:", CONTENT]
    assert not again.of("sendDocument")
