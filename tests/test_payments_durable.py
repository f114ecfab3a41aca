"""A paid update is never lost, in-process on a real SQLite file and real PostgreSQL: a
database that is locked for a moment (the payment is retried and recorded), locked past the
retry window (journaled, an ERROR line for the admins, the buyer told; recorded at the next
start, once however often replayed), a product deleted while its payment is in flight, a
stop whose SHUTDOWN_TIMEOUT passes with a payment in flight, SQLite's disk full, and the
guard that no Bot API call waits on Telegram inside a transaction."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from sqlalchemy import delete, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import ConnectionPoolEntry

from bot.config import Settings
from bot.dao.catalog import ProductDAO
from bot.dao.models import OutboxMessage, Product, Purchase
from bot.middlewares.bot_calls import TransactionAcrossBotCall
from bot.payments.notices import DELIVERY_FOLLOWS, UNMATCHED, UNSAVED
from bot.shop.intake import PaymentIntake
from bot.shop.invoices import build_payload
from bot.shop.money import format_amount
from bot.workers import payment_replay
from bot.workers.payment_replay import finish_payments, replay_payment_journal
from bot.workers.payment_replay import replay as replay_journal
from tests.support.burst import add_product
from tests.support.databases import ThrowawayDatabase, database_locked
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
    """What a start does with the journal (compacted first)."""
    settings, payments = workflow(shop)
    await replay_journal(shop.bot, settings, payments, shop.dispatcher["outbox"], compact=True)


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


def forget_delivered_marks(payments: PaymentIntake) -> None:
    """The journal as a crash between the database's commit and the journal's `delivered`
    mark leaves it: the payment recorded, not delivered."""
    journal = payments.journal.path
    journal.write_text(
        "".join(line + "\n" for line in journal.read_text().splitlines() if "delivered" not in line)
    )


async def test_a_payment_recorded_with_its_outbox_is_not_delivered_again_by_a_replay(
    shop: ShopBot,
) -> None:
    """A crash after the commit: the purchase and what it sends are in the database
    together, so the outbox (not the journal) delivers it, once."""
    product_id = await shop.run(seed)
    await pay(shop.chat(BUYER), product_id, "charge-crash")
    _, payments = workflow(shop)
    forget_delivered_marks(payments)

    await replay(shop)
    await replay(shop)

    assert await purchases(shop) == ["charge-crash"]
    assert len(delivered(shop)) == 1
    assert payments.journal.pending() == []
    assert payments.journal.path.read_text() == ""  # compacted at start


async def test_a_payment_an_older_release_recorded_but_did_not_deliver_is_delivered_once(
    shop: ShopBot,
) -> None:
    """Taken by a release without the outbox, which crashed before delivering: the journal
    says recorded, not delivered, and the outbox has nothing. The next start writes the goods
    to the outbox and delivers them (again, if that release's send had gone out: at least
    once), and only once however often it replays; the admins heard of the sale already."""
    product_id = await shop.run(seed)
    await pay(shop.chat(BUYER), product_id, "charge-old")
    _, payments = workflow(shop)
    forget_delivered_marks(payments)
    await shop.run(lambda session: session.execute(delete(OutboxMessage)))

    await replay(shop)
    await replay(shop)

    assert await purchases(shop) == ["charge-old"]
    assert len(delivered(shop)) == 2
    notices = [line for line in texts(shop.telegram.calls) if "New purchase" in line]
    assert len(notices) == 1
    assert payments.journal.pending() == []


async def test_a_payment_delivered_is_not_delivered_again_by_a_replay(shop: ShopBot) -> None:
    product_id = await shop.run(seed)
    await pay(shop.chat(BUYER), product_id, "charge-once")
    _, payments = workflow(shop)
    assert payments.journal.pending() == []

    await replay(shop)

    assert len(delivered(shop)) == 1


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


async def test_a_product_hard_deleted_between_read_and_insert_is_reported_at_once(
    shop: ShopBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt reads the product as it was before an admin's delete took it out
    (a category deleted on PostgreSQL); its insert then breaks the foreign key. Tried again
    at once, the payment finds no product and goes to the admins, not to the journal."""
    product_id = await shop.run(seed)
    [as_read] = await shop.rows(Product)
    await shop.run(lambda session: session.execute(delete(Product)))
    real_get = ProductDAO.get
    reads = 0

    async def stale_once(self: ProductDAO, wanted: int, **options: bool) -> Product | None:
        nonlocal reads
        reads += 1
        return as_read if reads == 1 else await real_get(self, wanted, **options)

    monkeypatch.setattr(ProductDAO, "get", stale_once)

    await pay(shop.chat(BUYER), product_id, "charge-orphaned")

    assert reads == 2
    assert to_buyer(shop) == [UNMATCHED]
    [notice] = texts(shop.chat(ADMIN).calls_since(0))
    assert "charge-orphaned" in notice and "names no known product" in notice
    assert await purchases(shop) == []


async def test_stopping_waits_for_a_payment_in_flight(
    shop: ShopBot, database: ThrowawayDatabase
) -> None:
    product_id = await shop.run(seed)
    settings, payments = workflow(shop)
    with watching_log("retrying") as retrying:
        async with database_locked(database):
            paying = pay(shop.chat(BUYER), product_id, "charge-stopping")
            await asyncio.wait_for(retrying.wait(), 30)
            stopping = asyncio.create_task(finish_payments(settings, payments, shop.dispatcher))
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


async def test_a_payment_is_journaled_before_the_form_storage_is_asked(
    shop: ShopBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiogram reads the form state (a Redis round trip) before any handler runs: a stop
    meanwhile must find the payment journaled and in flight, and wait for it."""
    product_id = await shop.run(seed)
    storage = shop.dispatcher.storage
    slow = asyncio.Event()
    asked = asyncio.Event()
    read_state = storage.get_state

    async def slow_get_state(*args: Any, **kwargs: Any) -> Any:
        asked.set()
        await slow.wait()
        return await read_state(*args, **kwargs)

    monkeypatch.setattr(storage, "get_state", slow_get_state)
    settings, payments = workflow(shop)
    paying = pay(shop.chat(BUYER), product_id, "charge-early")
    await asyncio.wait_for(asked.wait(), 10)

    assert [item.receipt.payment.charge_id for item in payments.journal.pending()] == [
        "charge-early"
    ]
    stopping = asyncio.create_task(finish_payments(settings, payments, shop.dispatcher))
    await asyncio.sleep(0.1)
    assert not stopping.done()  # it waits for the payment
    slow.set()
    await paying
    await stopping
    assert await purchases(shop) == ["charge-early"]
    assert len(delivered(shop)) == 1


async def test_a_payment_neither_journal_nor_database_can_take_goes_to_the_admins(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    unwritable = tmp_path / "a-file" / "payments.journal"  # its directory is a file
    (tmp_path / "a-file").write_text("")
    async with running_shop(
        database, admin_ids=str(ADMIN), payment_retry_window=0.5, payments_journal=unwritable
    ) as shop:
        product_id = await shop.run(seed)
        async with database_locked(database):
            await pay(shop.chat(BUYER), product_id, "charge-unsaved")

        assert to_buyer(shop) == [UNSAVED]
        [notice] = texts(shop.chat(ADMIN).calls_since(0))
        assert "charge-unsaved" in notice and "deliver it by hand" in notice
        assert f"(id {BUYER})" in notice


async def test_a_journaled_payment_is_delivered_by_the_periodic_replay(
    database: ThrowawayDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_replay, "REPLAY_INTERVAL", 0.1)
    async with running_shop(database, admin_ids=str(ADMIN), payment_retry_window=0.5) as shop:
        product_id = await shop.run(seed)
        async with database_locked(database):
            await pay(shop.chat(BUYER), product_id, "charge-later")
        assert to_buyer(shop) == [DELIVERY_FOLLOWS]
        settings, payments = workflow(shop)

        outbox = shop.dispatcher["outbox"]
        await replay_payment_journal(shop.bot, settings, payments, outbox, shop.dispatcher)
        for _ in range(100):  # the periodic replay, not a start, delivers it
            if delivered(shop):
                break
            await asyncio.sleep(0.1)
        await finish_payments(settings, payments, shop.dispatcher)

        assert await purchases(shop) == ["charge-later"]
        assert len(delivered(shop)) == 1


async def test_a_payment_still_in_flight_when_the_stop_times_out_is_recorded_at_the_next_start(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    """SHUTDOWN_TIMEOUT passes while a payment waits for the database: an ERROR line names
    its charge id, amount and payer; the process ends (its task with it); the next start
    records and delivers it from the journal, once."""
    both_starts = {"admin_ids": str(ADMIN), "payments_journal": tmp_path / "payments.journal"}
    async with running_shop(
        database, shutdown_timeout=0.2, payment_retry_window=60, **both_starts
    ) as shop:
        product_id = await shop.run(seed)
        settings, payments = workflow(shop)
        async with database_locked(database):
            paying = pay(shop.chat(BUYER), product_id, "charge-cut-off")
            for _ in range(200):  # journaled, and waiting for the lock
                if payments.in_flight("charge-cut-off"):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the payment never got under way")
            await finish_payments(settings, payments, shop.dispatcher)  # gives up after 0.2 s
            paying.cancel()  # the process exits
            with suppress(asyncio.CancelledError):
                await paying
        [error] = [
            line for line in shop.log if line.startswith("ERROR") and "charge-cut-off" in line
        ]
        assert format_amount(PRICE, "XTR") in error and f"user {BUYER}" in error
        assert "the next start records and delivers it" in error
        assert await purchases(shop) == []

    async with running_shop(database, **both_starts) as shop:
        await replay(shop)  # what the next start does
        await replay(shop)
        assert await purchases(shop) == ["charge-cut-off"]
        assert len(delivered(shop)) == 1


@asynccontextmanager
async def disk_full(engine: AsyncEngine, path: Path) -> AsyncIterator[None]:
    """The SQLite file may not grow until the block ends, as on a full disk: every connection
    the bot's engine opens meanwhile gets `PRAGMA max_page_count` at the file's size now (the
    pragma is per connection), so a write that needs a new page fails with SQLITE_FULL.
    Pooled connections are closed on the way in and out, so none keeps the wrong limit."""
    with sqlite3.connect(path) as probe:
        (pages,) = probe.execute("PRAGMA page_count").fetchone()

    def cap(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    await engine.dispose()
    event.listen(engine.sync_engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "connect", cap)
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_payment_on_a_full_disk_is_journaled_then_recorded_once_there_is_room(
    shop: ShopBot, database: ThrowawayDatabase
) -> None:
    """Buyers keep paying while the disk is full: the payments that fit in the pages the
    file has are recorded, the first that does not is journaled (an ERROR line with its
    charge id, amount and payer; its buyer told delivery follows), and it is recorded and
    delivered once the disk has room again."""
    product_id = await shop.run(seed)
    assert database.path is not None
    async with disk_full(shop.engine, database.path):
        for buyer_id in range(BUYER, BUYER + 500):
            buyer = shop.chat(buyer_id)
            await pay(buyer, product_id, f"charge-{buyer_id}")
            if DELIVERY_FOLLOWS in texts(buyer.calls_since(0)):
                break
        else:
            raise AssertionError("500 payments fit in a database that may not grow")
        charge = f"charge-{buyer_id}"
        assert charge not in await purchases(shop)
    [error] = [line for line in shop.log if line.startswith("ERROR") and charge in line]
    assert "database or disk is full" in error and "payment journal" in error
    assert format_amount(PRICE, "XTR") in error and f"user {buyer_id}" in error

    await replay(shop)  # every minute, and at start
    assert (await purchases(shop)).count(charge) == 1
    assert texts(buyer.calls_since(0)).count(HERE_IS) == 1
