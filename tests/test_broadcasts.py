"""Broadcasts, in-process through the real dispatcher and the real broadcast worker on SQLite
and PostgreSQL: composing (HTML checked as Telegram checks it, a photo, a button), the
audiences and their counts, the preview, Send pressed twice, every recipient once, the
progress edited into the admin's message and the final report; 403 marks the user blocked
and later broadcasts skip them; a 429 holds the whole broadcast; pause, resume, cancel; a
purchase during a broadcast is delivered at once."""

from __future__ import annotations

import asyncio
import html
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from bot.config.telegram import TelegramSettings
from bot.dao.broadcast_models import BROADCAST_DONE, Broadcast, BroadcastRecipient
from bot.dao.models import User
from bot.keyboards.callbacks import Admin, AdminAction, AdminBroadcast, BroadcastAction
from bot.shop.invoices import build_payload
from bot.shop.stock import now
from bot.workers.broadcasts import BroadcastWorker
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import TEST_TOKEN
from tests.support.shop import Chat, Screen, ShopBot, running_shop

ADMIN = 9301
USERS = [5301 + number for number in range(12)]


@pytest.fixture
async def shop(database: ThrowawayDatabase) -> AsyncIterator[ShopBot]:
    async with running_shop(database, admin_ids=str(ADMIN), broadcast_rate=30) as running:
        yield running


@pytest.fixture
async def worker(shop: ShopBot) -> AsyncIterator[BroadcastWorker]:
    worker: BroadcastWorker = shop.dispatcher["broadcast_worker"]
    await worker.start(shop.bot)
    yield worker
    await worker.stop()


async def users_start(shop: ShopBot, users: list[int] = USERS) -> None:
    for user in [*users, ADMIN]:
        await shop.chat(user).send("/start")


def broadcast_sends(shop: ShopBot, text: str) -> Counter[int]:
    """How many messages with `text` each chat shows (a refused call shows nothing)."""
    return Counter(
        {
            chat: count
            for chat in [*USERS, ADMIN]
            if (
                count := sum(
                    text in str(message.get("text") or message.get("caption"))
                    for message in shop.telegram.messages_in(chat)
                )
            )
        }
    )


async def compose(admin: Chat, message: str, *, button: str = "/skip") -> Screen:
    """The admin composes a broadcast up to the audience question."""
    await admin.press(Admin(action=AdminAction.BROADCAST).pack())
    asked = await admin.send(message)
    assert "Add a button?" in asked.text, asked.text
    return await admin.send(button)


async def pick(admin: Chat, audience_screen: Screen, label: str) -> tuple[list[Call], Screen]:
    """Pick an audience: the preview's calls and the confirmation."""
    pressed = await admin.press(audience_screen.button(label))
    sends = [call for call in pressed.calls if call.method.lower().startswith("send")]
    return sends[:-1], Screen(sends[-1])


async def until(condition: Any, timeout: float = 20.0) -> None:
    """Wait for `condition()` (a coroutine function) to hold."""
    async with asyncio.timeout(timeout):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


async def done(shop: ShopBot, broadcast_id: int) -> bool:
    [broadcast] = await shop.rows(Broadcast, Broadcast.id == broadcast_id)
    return bool(broadcast.state == BROADCAST_DONE)


def broadcast_id_of(confirm: Screen) -> int:
    return AdminBroadcast.unpack(confirm.button("Send")).broadcast_id


async def test_a_broadcast_reaches_everyone_once_with_a_preview_and_a_report(
    shop: ShopBot, worker: BroadcastWorker
) -> None:
    await users_start(shop)
    admin = shop.chat(ADMIN)
    audiences = await compose(admin, "<b>Winter sale</b> — 20% off & more")
    preview, confirm = await pick(admin, audiences, "Everyone")
    [shown] = preview
    assert shown.params["text"] == "<b>Winter sale</b> — 20% off & more"
    assert "goes to 13 users" in confirm.text
    assert broadcast_sends(shop, "Winter sale") == Counter({ADMIN: 1})  # the preview only
    broadcast_id = broadcast_id_of(confirm)

    # Pressed twice at once: one broadcast.
    send = confirm.button("Send")
    await shop.feed(
        shop.telegram.button_update(ADMIN, send), shop.telegram.button_update(ADMIN, send)
    )
    await until(lambda: done(shop, broadcast_id))
    assert broadcast_sends(shop, "Winter sale") == Counter({**dict.fromkeys(USERS, 1), ADMIN: 2})
    notices = [call.params.get("text") for call in shop.telegram.calls_of("answerCallbackQuery")]
    assert "This broadcast was sent off already." in notices
    recipients = await shop.rows(BroadcastRecipient)
    assert len(recipients) == 13 and {row.state for row in recipients} == {"sent"}
    # The admin's message ends as the final report, and the report also comes as a message.
    await until(lambda: _reported(shop, broadcast_id))
    [report] = [
        call
        for call in shop.telegram.calls_of("sendMessage")
        if f"Broadcast #{broadcast_id}</b> is done" in call.params["text"]
    ]
    assert "Sent: 13 · failed: 0 · blocked the bot: 0 · left: 0" in report.params["text"]


async def _reported(shop: ShopBot, broadcast_id: int) -> bool:
    edits = shop.telegram.calls_of("editMessageText")
    return any(f"Broadcast #{broadcast_id}</b> is done" in call.params["text"] for call in edits)


async def buy(shop: ShopBot, user_id: int, product_id: int, charge: str) -> None:
    payload = build_payload(product_id, user_id)
    await shop.chat(user_id).pay(currency="XTR", total_amount=25, payload=payload, charge_id=charge)


async def send_off(admin: Chat, audiences: Screen, label: str) -> tuple[int, Screen]:
    """Pick the audience and press Send; the broadcast's id and its confirmation."""
    _preview, confirm = await pick(admin, audiences, label)
    await admin.press(confirm.button("Send"))
    return broadcast_id_of(confirm), confirm


# ---------------------------------------------------------------------------- composing


async def test_what_telegram_would_refuse_is_refused_while_composing(shop: ShopBot) -> None:
    admin = shop.chat(ADMIN)
    await admin.send("/start")
    await admin.press(Admin(action=AdminAction.BROADCAST).pack())
    refusals = {
        "<b>bold": "The tag <b> is not closed.",
        "<b><i>x</b></i>": "The end tag </b> closes no open tag.",
        "<marquee>hi</marquee>": "Telegram does not support the tag <marquee>.",
        '<span class="red">x</span>': 'Telegram supports <span> only as <span class="tg-spoiler">.',
        "<a>link</a>": "A link <a> needs its address",
        "a < b": "Write a < that is not a tag as &lt;.",
        "x" * 4097: "It is 4097 characters long; Telegram takes at most 4096 here.",
    }
    for typed, reason in refusals.items():
        answer = (await admin.send(typed)).text
        assert html.escape(reason) in answer and "Send it again, or /cancel." in answer, answer
    # Still at the first step; a valid message goes on, its length counted as shown.
    fine = '<a href="https://example.com/sale">Sale</a> &lt;3 &nbsp; > ' + "я" * 4000
    assert "Add a button?" in (await admin.send(fine)).text
    assert "Send the button as" in (await admin.send("no link here")).text
    assert "There is no product #999." in (await admin.send("#999")).text
    assert not await shop.rows(Broadcast)


async def test_a_photo_with_a_caption_and_a_product_button(
    shop: ShopBot, worker: BroadcastWorker
) -> None:
    product_id = await shop.add_product(
        "Keys", name="Game key", price=25, currency="XTR", hidden_content="KEY"
    )
    await users_start(shop, USERS[:2])
    admin = shop.chat(ADMIN)
    await admin.press(Admin(action=AdminAction.BROADCAST).pack())
    await admin.send_photo("PHOTO-1", caption="<i>New</i> keys are in")
    audiences = await admin.send(f"#{product_id}")
    assert "Who gets it?" in audiences.text
    [preview], confirm = await pick(admin, audiences, "Everyone")
    assert preview.method == "sendPhoto" and preview.params["photo"] == "PHOTO-1"
    assert preview.params["caption"] == "<i>New</i> keys are in"
    [[card_button]] = preview.params["reply_markup"]["inline_keyboard"]
    assert card_button == {
        "text": "🛍 Game key",
        "url": f"https://t.me/fake_shop_bot?start=p{product_id}",
    }
    await admin.press(confirm.button("Send"))
    await until(lambda: done(shop, broadcast_id_of(confirm)))
    assert broadcast_sends(shop, "keys are in") == Counter({USERS[0]: 1, USERS[1]: 1, ADMIN: 2})
    # The button opens the product's card, in a message of its own.
    card = await shop.chat(USERS[0]).send(f"/start p{product_id}")
    assert "<b>Game key</b>" in card.text


async def test_a_link_button(shop: ShopBot) -> None:
    admin = shop.chat(ADMIN)
    await admin.send("/start")
    audiences = await compose(admin, "Read our news", button="Our blog https://example.com/blog")
    [preview], _confirm = await pick(admin, audiences, "Everyone")
    [[link]] = preview.params["reply_markup"]["inline_keyboard"]
    assert link == {"text": "Our blog", "url": "https://example.com/blog"}


async def test_customers_cannot_reach_broadcasts(shop: ShopBot) -> None:
    admin = shop.chat(ADMIN)
    await admin.send("/start")
    audiences = await compose(admin, "Admins only")
    _preview, confirm = await pick(admin, audiences, "Everyone")
    customer = shop.chat(USERS[0])
    await customer.send("/start")
    mark = shop.telegram.mark()
    await customer.press(confirm.button("Send"))  # forged: the admin's button
    await customer.press(Admin(action=AdminAction.BROADCAST).pack())
    assert not shop.telegram.calls_of("editMessageText")[mark:]
    [broadcast] = await shop.rows(Broadcast)
    assert broadcast.state == "draft" and not await shop.rows(BroadcastRecipient)


# ---------------------------------------------------------------------------- audiences


async def test_each_audience_counts_whom_it_reaches(shop: ShopBot) -> None:
    keys = await shop.add_product("Keys", name="Game key", price=25, currency="XTR")
    books = await shop.add_product("Books", name="E-book", price=25, currency="XTR")
    await users_start(shop, USERS[:6])
    await buy(shop, USERS[0], keys, "c-1")
    await buy(shop, USERS[1], books, "c-2")
    await shop.run(
        lambda session: session.execute(
            update(User).where(User.telegram_id == USERS[2]).values(language="ru")
        )
    )
    shop.telegram.block(USERS[3])
    await shop.run(
        lambda session: session.execute(
            update(User).where(User.telegram_id == USERS[3]).values(blocked_at=now())
        )
    )
    visits = shop.dispatcher["visits"]
    await visits.write()  # everyone who wrote above was seen just now
    await shop.run(
        lambda session: session.execute(
            update(User)
            .where(User.telegram_id == USERS[4])
            .values(last_seen_at=now() - timedelta(days=10))
        )
    )
    admin = shop.chat(ADMIN)
    expected = {
        "Everyone": 6,  # 6 users and the admin, one blocked
        "Never bought": 4,
        "Active 7 d": 5,
        "Active 30 d": 6,
        "Русский": 1,
        "English": 5,  # those without a stored language are spoken to in the default
        "Buyers in Keys": 1,
    }
    for label, count in expected.items():
        audiences = await compose(admin, f"For {label}")
        _preview, confirm = await pick(admin, audiences, label)
        assert f"goes to {count} user" in confirm.text, (label, confirm.text)
    await compose(admin, "For book buyers")
    mark = shop.telegram.mark()
    await shop.feed(shop.telegram.text_update(ADMIN, f"#{books}"))
    assert "goes to 1 user " in admin.calls_since(mark)[-1].params["text"]


# ---------------------------------------------------------------------------- sending


async def test_a_blocked_user_is_marked_and_skipped_until_they_come_back(
    shop: ShopBot, worker: BroadcastWorker
) -> None:
    await users_start(shop, USERS[:3])
    shop.telegram.block(USERS[1])
    admin = shop.chat(ADMIN)
    first, _ = await send_off(admin, await compose(admin, "First news"), "Everyone")
    await until(lambda: done(shop, first))
    [blocked] = await shop.rows(User, User.telegram_id == USERS[1])
    assert blocked.blocked_at is not None
    states = {row.chat_id: row.state for row in await shop.rows(BroadcastRecipient)}
    assert states[USERS[1]] == "blocked" and states[USERS[0]] == "sent"
    await until(lambda: _reported(shop, first))

    second, confirm = await send_off(admin, await compose(admin, "Second news"), "Everyone")
    assert "goes to 3 users" in confirm.text  # the blocked one is left out
    await until(lambda: done(shop, second))
    assert USERS[1] not in broadcast_sends(shop, "Second news")

    shop.telegram.block(USERS[1], blocked=False)
    await shop.chat(USERS[1]).send("/start")  # back: reached again
    _third, confirm = await send_off(admin, await compose(admin, "Third news"), "Everyone")
    assert "goes to 4 users" in confirm.text


async def test_flood_control_holds_the_whole_broadcast(
    shop: ShopBot, worker: BroadcastWorker
) -> None:
    await users_start(shop)
    admin = shop.chat(ADMIN)
    audiences = await compose(admin, "Flood news")
    _preview, confirm = await pick(admin, audiences, "Everyone")
    shop.telegram.set_flood_control("sendMessage", retry_after=1, times=1)
    await admin.press(confirm.button("Send"))
    await until(lambda: done(shop, broadcast_id_of(confirm)))
    assert broadcast_sends(shop, "Flood news") == Counter({**dict.fromkeys(USERS, 1), ADMIN: 2})
    sends = [
        call
        for call in shop.telegram.calls_of("sendMessage")
        if "Flood news" in call.params["text"]
    ]
    refused = sends[1]  # the first after the preview met the 429
    later = [call for call in sends if call.index > refused.index]
    assert len(later) == len(USERS) + 1  # everyone, the refused one again included
    assert min(call.at for call in later) >= refused.at + 1.0  # nobody was sent meanwhile


async def test_pause_resume_and_cancel(database: ThrowawayDatabase) -> None:
    async with running_shop(database, admin_ids=str(ADMIN), broadcast_rate=5) as shop:
        worker: BroadcastWorker = shop.dispatcher["broadcast_worker"]
        await worker.start(shop.bot)
        try:
            await _pause_resume_and_cancel(shop)
        finally:
            await worker.stop()


async def _pause_resume_and_cancel(shop: ShopBot) -> None:
    await users_start(shop)
    admin = shop.chat(ADMIN)
    broadcast_id, _confirm = await send_off(admin, await compose(admin, "Slow news"), "Everyone")
    await until(lambda: _sent_at_least(shop, broadcast_id, 2))
    paused = (await admin.press(_control(broadcast_id, BroadcastAction.PAUSE))).screen
    assert f"Broadcast #{broadcast_id}</b> is paused" in paused.text
    assert "Resume" in paused.labels[0]
    await asyncio.sleep(1.5)  # the sender stops within a flush
    stopped = sum(broadcast_sends(shop, "Slow news").values())
    await asyncio.sleep(1.0)
    assert sum(broadcast_sends(shop, "Slow news").values()) == stopped < len(USERS) + 2

    await admin.press(_control(broadcast_id, BroadcastAction.RESUME))
    await until(lambda: done(shop, broadcast_id))
    assert broadcast_sends(shop, "Slow news") == Counter({**dict.fromkeys(USERS, 1), ADMIN: 2})

    other_id, _ = await send_off(admin, await compose(admin, "Never mind"), "Everyone")
    await until(lambda: _sent_at_least(shop, other_id, 1))
    cancelled = (await admin.press(_control(other_id, BroadcastAction.CANCEL))).screen
    assert f"Broadcast #{other_id}</b> was cancelled" in cancelled.text
    assert not cancelled.buttons
    await asyncio.sleep(1.5)
    [row] = await shop.rows(Broadcast, Broadcast.id == other_id)
    left = [r for r in await shop.rows(BroadcastRecipient) if r.broadcast_id == other_id]
    assert row.state == "cancelled" and any(r.state == "pending" for r in left)
    # A cancelled broadcast cannot be resumed or sent again.
    again = await admin.press(_control(other_id, BroadcastAction.RESUME))
    assert "was cancelled" in again.screen.text


async def test_a_purchase_during_a_broadcast_is_delivered_at_once(
    database: ThrowawayDatabase,
) -> None:
    async with running_shop(database, admin_ids=str(ADMIN), broadcast_rate=4) as shop:
        worker: BroadcastWorker = shop.dispatcher["broadcast_worker"]
        await worker.start(shop.bot)
        try:
            product_id = await shop.add_product(
                "Keys", name="Game key", price=25, currency="XTR", hidden_content="KEY-9"
            )
            await users_start(shop)
            admin = shop.chat(ADMIN)
            broadcast_id, _ = await send_off(admin, await compose(admin, "Busy news"), "Everyone")
            await until(lambda: _sent_at_least(shop, broadcast_id, 1))
            mark = shop.telegram.mark()
            await buy(shop, USERS[0], product_id, "mid-broadcast")
            # Delivered within the payment's own handling, the broadcast still going on.
            goods = [call for call in shop.telegram.calls[mark:] if "KEY-9" in str(call.params)]
            assert goods
            assert not await done(shop, broadcast_id)
        finally:
            await worker.stop()


async def test_the_paid_rate_needs_paid_broadcasts_on(database: ThrowawayDatabase) -> None:
    with pytest.raises(ValidationError, match="BROADCAST_PAID=true"):
        TelegramSettings(_env_file=None, bot_token=TEST_TOKEN, broadcast_rate=100)  # type: ignore[call-arg]
    async with running_shop(
        database, admin_ids=str(ADMIN), broadcast_rate=200, broadcast_paid=True
    ) as shop:
        worker: BroadcastWorker = shop.dispatcher["broadcast_worker"]
        await worker.start(shop.bot)
        try:
            await users_start(shop, USERS[:3])
            admin = shop.chat(ADMIN)
            broadcast_id, _ = await send_off(admin, await compose(admin, "Paid news"), "Everyone")
            await until(lambda: done(shop, broadcast_id))
        finally:
            await worker.stop()
        sends = [
            call
            for call in shop.telegram.calls_of("sendMessage")
            if "Paid news" in call.params["text"]
        ]
        preview, *broadcast = sends
        assert "allow_paid_broadcast" not in preview.params
        assert len(broadcast) == 4 and all(c.params["allow_paid_broadcast"] for c in broadcast)


def _control(broadcast_id: int, action: BroadcastAction) -> str:
    return AdminBroadcast(action=action, broadcast_id=broadcast_id).pack()


async def _sent_at_least(shop: ShopBot, broadcast_id: int, count: int) -> bool:
    rows = await shop.rows(BroadcastRecipient)
    return sum(r.broadcast_id == broadcast_id and r.state == "sent" for r in rows) >= count
