"""The delivery outbox, in-process on a real SQLite file and real PostgreSQL: what a paid
order sends is written with the purchase and sent after the commit; Telegram's flood control
and server errors are waited out (delivered once), a send failing past its claim is finished
later without repeating what arrived, a blocked buyer is marked and never retried (goods
refused for another reason tell the buyer how to get them again), two senders never send
one row twice, a dead sender's rows are sent once its lease runs out, and a stopping one
hands its rows on at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import (
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_SENT,
    OUTBOX_TEXT,
    OutboxMessage,
    User,
)
from bot.dao.outbox import NewMessage, OutboxDAO
from bot.keyboards.callbacks import Admin, AdminAction
from bot.shop.stock import now
from bot.telegram.outbox import GET_IT_AGAIN, Outbox
from bot.workers.outbox import OutboxWorker
from tests.support.books import ADMIN, BUYER, CONTENT, HERE_IS, pay_for_book
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import ShopBot, documents, running_shop, texts


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN), bot_api_retry_timeout=3) as running:
        yield running


def outbox_of(shop: ShopBot) -> Outbox:
    outbox: Outbox = shop.dispatcher["outbox"]
    return outbox


def worker_of(shop: ShopBot) -> OutboxWorker:
    worker: OutboxWorker = shop.dispatcher["outbox_worker"]
    return worker


def another_sender(shop: ShopBot) -> Outbox:
    """A second instance's sender on the same database."""
    mine = outbox_of(shop)
    return Outbox(mine.transactions, mine.renderers, lease=mine.lease)


async def outbox_rows(shop: ShopBot) -> list[OutboxMessage]:
    return await shop.rows(OutboxMessage)


async def make_due(shop: ShopBot) -> None:
    """As if every postponed row's time had come."""
    await shop.run(lambda session: session.execute(update(OutboxMessage).values(due_at=now())))


async def add_texts(shop: ShopBot, count: int) -> None:
    """`count` unclaimed text rows, to as many chats, due now."""
    messages = [NewMessage(OUTBOX_TEXT, 700 + n, text=f"note {n}") for n in range(count)]

    async def add(session: AsyncSession) -> None:
        await OutboxDAO(session).add(messages, now())

    await shop.run(add)


def sent_texts(shop: ShopBot) -> list[str]:
    return [line for line in texts(shop.telegram.calls) if line.startswith("note ")]


async def test_a_paid_order_is_in_the_outbox_with_the_purchase_and_sent_once(
    shop: ShopBot,
) -> None:
    await pay_for_book(shop)

    buyer = shop.chat(BUYER).calls_since(0)
    assert texts(buyer) == [HERE_IS, CONTENT]
    assert documents(buyer) == ["FILE-PY"]
    [goods, notice] = await outbox_rows(shop)
    assert (goods.kind, goods.chat_id, goods.state, goods.parts_sent) == ("goods", BUYER, "sent", 3)
    assert (notice.kind, notice.chat_id, notice.state) == ("text", ADMIN, "sent")
    assert goods.purchase_id == notice.purchase_id is not None
    assert goods.text is None  # the content is read when sent, never copied here
    assert await outbox_of(shop).send_due(shop.bot) == 0


async def test_flood_control_then_a_server_error_then_ok_delivers_once(shop: ShopBot) -> None:
    shop.telegram.set_flood_control("sendDocument", retry_after=1)
    shop.telegram.set_server_error("sendDocument")

    await pay_for_book(shop)

    buyer = shop.chat(BUYER).calls_since(0)
    assert texts(buyer) == [HERE_IS, CONTENT]
    assert documents(buyer) == ["FILE-PY"] * 3  # 429, 500, then delivered
    assert {row.state for row in await outbox_rows(shop)} == {OUTBOX_SENT}


async def test_a_send_failing_past_its_claim_is_finished_later_without_repeats(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database, admin_ids=str(ADMIN), bot_api_retry_timeout=0.2) as shop:
        shop.telegram.set_server_error("sendDocument", times=20)

        await pay_for_book(shop)

        [goods, _notice] = await outbox_rows(shop)
        assert (goods.state, goods.parts_sent, goods.attempts) == (OUTBOX_PENDING, 2, 1)
        assert "Internal Server Error" in (goods.error or "")
        assert goods.claimed_by is None and goods.due_at > now()
        assert await outbox_of(shop).send_due(shop.bot) == 0  # not due yet

        shop.telegram.clear_failures("sendDocument")
        await make_due(shop)
        assert await another_sender(shop).send_due(shop.bot) == 1

        buyer = shop.chat(BUYER).calls_since(0)
        assert texts(buyer) == [HERE_IS, CONTENT]  # what arrived is not sent again
        assert documents(buyer)[-1] == "FILE-PY"
        [goods, _notice] = await outbox_rows(shop)
        assert (goods.state, goods.parts_sent) == (OUTBOX_SENT, 3)


async def test_a_blocked_buyer_is_marked_and_never_retried(shop: ShopBot) -> None:
    shop.telegram.block(BUYER)

    await pay_for_book(shop)

    assert len(shop.chat(BUYER).calls_since(0)) == 1  # one try, no retry storm
    [goods, notice] = await outbox_rows(shop)  # and no line to a buyer nothing reaches
    assert goods.state == OUTBOX_FAILED and "blocked" in (goods.error or "")
    await make_due(shop)
    assert await outbox_of(shop).send_due(shop.bot) == 0
    assert notice.state == OUTBOX_SENT  # the admins heard of the sale all the same
    [user] = await shop.rows(User, User.telegram_id == BUYER)
    assert user.blocked_at is not None
    stats = (await shop.chat(ADMIN).press(Admin(action=AdminAction.STATS).pack())).screen
    assert "  • 1 has blocked the bot" in stats.text
    # Unblocked (Telegram's Restart sends /start), the buyer gets it from 🧾 My purchases.
    shop.telegram.block(BUYER, blocked=False)
    buyer = shop.chat(BUYER)
    purchases = await buyer.tap(await buyer.send("/start"), "My purchases")
    [user] = await shop.rows(User, User.telegram_id == BUYER)
    assert user.blocked_at is None
    again = await buyer.press(purchases.button("Python Tricks"))
    assert CONTENT in texts(again.calls)


async def test_goods_refused_for_good_tell_the_buyer_to_get_them_from_my_purchases(
    shop: ShopBot,
) -> None:
    """A refusal other than a block (here Telegram no longer takes the file): the goods row
    fails, never retried, and the buyer is told, once, how to get the purchase again."""
    shop.telegram.set_failure(
        "sendDocument", error_code=400, description="Bad Request: wrong file identifier"
    )

    await pay_for_book(shop)

    buyer = shop.chat(BUYER).calls_since(0)
    assert texts(buyer) == [HERE_IS, CONTENT, str(GET_IT_AGAIN)]
    assert documents(buyer) == ["FILE-PY"]  # one try
    [goods, notice, told] = await outbox_rows(shop)
    assert goods.state == OUTBOX_FAILED and "wrong file identifier" in (goods.error or "")
    assert (told.kind, told.chat_id, told.state) == (OUTBOX_TEXT, BUYER, OUTBOX_SENT)
    assert notice.chat_id == ADMIN
    await make_due(shop)
    assert await outbox_of(shop).send_due(shop.bot) == 0
    assert len(texts(shop.chat(BUYER).calls_since(0))) == 3  # told once


async def test_two_senders_at_once_send_every_row_exactly_once(shop: ShopBot) -> None:
    await add_texts(shop, 60)
    first, second = outbox_of(shop), another_sender(shop)

    async def drain(sender: Outbox) -> None:
        while await sender.send_due(shop.bot):
            pass

    await asyncio.gather(drain(first), drain(second))

    assert sorted(sent_texts(shop)) == sorted(f"note {n}" for n in range(60))
    assert {row.state for row in await outbox_rows(shop)} == {OUTBOX_SENT}


async def test_a_dead_senders_rows_wait_for_its_lease_then_go(shop: ShopBot) -> None:
    moment = now()

    async def claimed_by_the_dead(session: AsyncSession) -> None:
        dao = OutboxDAO(session)
        live = [NewMessage(OUTBOX_TEXT, 801, text="note held")]
        expired = [NewMessage(OUTBOX_TEXT, 802, text="note orphaned")]
        await dao.add(live, moment, claimed_by="dead", until=moment + timedelta(minutes=5))
        await dao.add(expired, moment, claimed_by="dead", until=moment - timedelta(seconds=1))

    await shop.run(claimed_by_the_dead)

    assert await outbox_of(shop).send_due(shop.bot) == 1
    assert sent_texts(shop) == ["note orphaned"]


async def test_a_stopping_sender_hands_its_rows_on_at_once(shop: ShopBot) -> None:
    mine = outbox_of(shop)
    async with mine.transactions(5) as session_shop:
        await mine.write(session_shop, [NewMessage(OUTBOX_TEXT, 803, text="note handed on")])
    assert await another_sender(shop).send_due(shop.bot) == 0  # claimed by `mine`

    await worker_of(shop).stop()

    assert await another_sender(shop).send_due(shop.bot) == 1
    assert sent_texts(shop) == ["note handed on"]


async def test_the_worker_sends_what_becomes_due(shop: ShopBot) -> None:
    worker = worker_of(shop)
    await worker.start(shop.bot)
    try:
        await add_texts(shop, 3)
        worker.wake()
        for _ in range(200):
            if {row.state for row in await outbox_rows(shop)} == {OUTBOX_SENT}:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert sorted(sent_texts(shop)) == ["note 0", "note 1", "note 2"]
    assert {row.state for row in await outbox_rows(shop)} == {OUTBOX_SENT}


async def test_a_stopping_worker_finishes_the_round_it_is_sending(shop: ShopBot) -> None:
    """SIGTERM mid-round: what went out is recorded as sent, not handed on to be sent again."""
    worker = worker_of(shop)
    shop.telegram.set_latency(0.3, "sendMessage")
    await add_texts(shop, 2)
    await worker.start(shop.bot)
    for _ in range(200):
        if shop.telegram.calls_of("sendMessage"):
            break
        await asyncio.sleep(0.01)

    await worker.stop()

    assert sorted(sent_texts(shop)) == ["note 0", "note 1"]
    assert {row.state for row in await outbox_rows(shop)} == {OUTBOX_SENT}
