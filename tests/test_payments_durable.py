"""A paid update is never lost, in-process on a real SQLite file and real PostgreSQL: a
database that is locked for a moment (the payment is retried and recorded), locked past the
retry window (journaled, an ERROR line for the admins, the buyer told; recorded at the next
start, once however often replayed), a product deleted while its payment is in flight, and
the guard that no Bot API call waits on Telegram inside a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from loguru import logger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.dao.database import create_engine
from bot.dao.models import Product, Purchase
from bot.handlers.payments import DELIVERY_FOLLOWS, finish_payments, replay_payment_journal
from bot.middlewares.bot_calls import TransactionAcrossBotCall
from bot.shop.customers import Customer
from bot.shop.intake import PaymentIntake
from bot.shop.invoices import build_payload
from bot.shop.money import format_amount
from bot.shop.payments import Payment, Receipt
from tests.support.burst import add_product
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import free_port
from tests.support.shop import Chat, ShopBot, running_shop, texts

BUYER, ADMIN = 5001, 9001
PRICE = 150
HERE_IS = "📦 Here is <b>Key</b>:"


def seed(session: AsyncSession) -> Awaitable[int]:
    return add_product(session, "Key", PRICE)


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN)) as running:
        yield running


def pay(buyer: Chat, product_id: int, charge_id: str) -> asyncio.Task[None]:
    return asyncio.create_task(
        buyer.pay(
            currency="XTR",
            total_amount=PRICE,
            payload=build_payload(product_id, buyer.user_id),
            charge_id=charge_id,
        )
    )


@asynccontextmanager
async def database_locked(database: ThrowawayDatabase) -> AsyncIterator[None]:
    """Another connection holds the purchases table (SQLite: the one write lock) until the
    block ends."""
    engine = create_engine(database.url)
    try:
        async with engine.begin() as conn:
            if database.backend == "sqlite":
                await conn.execute(text("DELETE FROM purchases WHERE id < 0"))
            else:
                await conn.execute(text("LOCK TABLE purchases IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        await engine.dispose()


@contextmanager
def watching_log(needle: str) -> Iterator[asyncio.Event]:
    """An event set once a log line contains `needle`."""
    seen = asyncio.Event()
    sink = logger.add(lambda line: seen.set() if needle in line else None, level="DEBUG")
    try:
        yield seen
    finally:
        logger.remove(sink)


def workflow(shop: ShopBot) -> tuple[Settings, PaymentIntake]:
    return shop.dispatcher["settings"], shop.dispatcher["payments"]


async def replay(shop: ShopBot) -> None:
    settings, payments = workflow(shop)
    await replay_payment_journal(shop.bot, settings, payments)


def to_buyer(shop: ShopBot) -> list[str]:
    return texts(shop.chat(BUYER).calls_since(0))


def delivered(shop: ShopBot) -> list[str]:
    return [line for line in to_buyer(shop) if line == HERE_IS]


async def purchases(shop: ShopBot) -> list[str]:
    return [row.charge_id for row in await shop.rows(Purchase)]


async def test_a_payment_during_a_held_lock_is_retried_recorded_and_delivered_once(
    shop: ShopBot, database: ThrowawayDatabase
) -> None:
    product_id = await shop.run(seed)
    with watching_log("retrying") as retrying:
        async with database_locked(database):
            paying = pay(shop.chat(BUYER), product_id, "charge-locked")
            await asyncio.wait_for(retrying.wait(), 30)
    await paying

    assert await purchases(shop) == ["charge-locked"]
    assert len(delivered(shop)) == 1
    assert DELIVERY_FOLLOWS not in texts(shop.telegram.calls)


async def test_a_payment_past_the_retry_window_is_journaled_then_replayed_once(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database, admin_ids=str(ADMIN), payment_retry_window=0.5) as shop:
        product_id = await shop.run(seed)
        async with database_locked(database):
            await pay(shop.chat(BUYER), product_id, "charge-late")

        assert await purchases(shop) == []
        assert to_buyer(shop) == [DELIVERY_FOLLOWS]
        paid = format_amount(PRICE, "XTR")
        [error] = [line for line in shop.log if line.startswith("ERROR") and "charge-late" in line]
        assert paid in error and f"user {BUYER}" in error
        assert "payment journal" in error

        await replay(shop)  # the next start
        await replay(shop)  # and the one after: nothing left to do
        assert await purchases(shop) == ["charge-late"]
        assert len(delivered(shop)) == 1
        sale_notices = [line for line in texts(shop.telegram.calls) if "New purchase" in line]
        assert len(sale_notices) == 1


async def test_replaying_a_payment_that_reached_the_database_grants_it_once(
    shop: ShopBot,
) -> None:
    """As after a crash between the database write and the journal's "done" line."""
    product_id = await shop.run(seed)
    await pay(shop.chat(BUYER), product_id, "charge-twice")
    _, payments = workflow(shop)
    assert payments.journal.pending() == []
    payment = Payment(build_payload(product_id, BUYER), PRICE, "XTR", "charge-twice", None)
    await payments.journal.append(Receipt(7, Customer(BUYER, None, "Test", None), payment))

    await replay(shop)
    await replay(shop)

    assert await purchases(shop) == ["charge-twice"]
    assert len(delivered(shop)) == 1
    assert payments.journal.pending() == []
    assert payments.journal.path.read_text() == ""  # compacted at start


async def test_a_product_deleted_while_its_payment_is_in_flight_is_bought_and_hidden(
    shop: ShopBot,
) -> None:
    product_id = await shop.run(seed)
    admin, buyer = shop.chat(ADMIN), shop.chat(BUYER)
    panel = await admin.tap(await admin.send("/start"), "Admin panel")
    card = await admin.tap(await admin.tap(panel, "Products"), "Key")
    delete = shop.telegram.button_update(ADMIN, card.button("Delete"))
    payment = shop.telegram.payment_update(
        BUYER,
        currency="XTR",
        total_amount=PRICE,
        payload=build_payload(product_id, BUYER),
        charge_id="charge-racing",
    )

    await shop.feed(delete, payment)  # at once, as polling runs them

    assert await purchases(shop) == ["charge-racing"]
    assert len(delivered(shop)) == 1
    [product] = await shop.rows(Product)
    assert product.deleted_at is None and not product.on_sale  # listed for admins, hidden
    catalog = await buyer.tap(await buyer.send("/start"), "Catalog")
    assert "empty" in catalog.text


async def test_stopping_waits_for_a_payment_in_flight(
    shop: ShopBot, database: ThrowawayDatabase
) -> None:
    product_id = await shop.run(seed)
    settings, payments = workflow(shop)
    with watching_log("retrying") as retrying:
        async with database_locked(database):
            paying = pay(shop.chat(BUYER), product_id, "charge-stopping")
            await asyncio.wait_for(retrying.wait(), 30)
            stopping = asyncio.create_task(finish_payments(settings, payments))
            await asyncio.sleep(0.1)
            assert not stopping.done()
    await stopping  # returns once the payment is recorded and delivered
    assert await purchases(shop) == ["charge-stopping"]
    assert len(delivered(shop)) == 1
    await paying


async def test_a_bot_api_call_inside_an_open_transaction_fails_loudly(shop: ShopBot) -> None:
    await shop.chat(BUYER).send("/start")  # the bot's session now carries the guard

    async def talk_inside(session: AsyncSession) -> None:
        await session.execute(text("SELECT 1"))
        await shop.bot.send_message(BUYER, "inside a transaction")

    with pytest.raises(TransactionAcrossBotCall, match="sendMessage"):
        await shop.run(talk_inside)


async def test_a_payment_is_taken_while_the_form_storage_is_down(
    database: ThrowawayDatabase,
) -> None:
    """Redis (the FSM storage) unreachable: aiogram cannot read the form state before any
    handler runs, yet a payment needs none, so it is recorded and delivered all the same."""
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"
    async with running_shop(database, admin_ids=str(ADMIN), redis_url=nobody_listens) as shop:
        product_id = await shop.run(seed)
        buyer = shop.chat(BUYER)

        await pay(buyer, product_id, "charge-no-redis")

        [purchase] = await shop.rows(Purchase)
        assert purchase.charge_id == "charge-no-redis"
        assert HERE_IS in texts(shop.telegram.calls_of("sendMessage"))
        assert any("taking the payment anyway" in line for line in shop.log)
