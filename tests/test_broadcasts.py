"""Broadcasts, in-process through the real dispatcher and the real broadcast worker on SQLite
and PostgreSQL: composing (HTML checked as Telegram checks it, a photo, a button), the
audiences and their counts, the preview, Send pressed twice, every recipient once, the
progress edited into the admin's message and the final report; 403 marks the user blocked
and later broadcasts skip them; a 429 holds the whole broadcast; pause, resume, cancel; a
purchase during a broadcast is delivered at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.dao.models import (
    BROADCAST_DONE,
    Broadcast,
    BroadcastRecipient,
)
from bot.keyboards.callbacks import Admin, AdminAction, AdminBroadcast
from bot.workers.broadcasts import BroadcastWorker
from tests.fakes import Call
from tests.support.databases import ThrowawayDatabase
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
    """How many times each chat got a message with `text`."""
    return Counter(
        int(call.params["chat_id"])
        for call in shop.telegram.calls
        if call.method.lower() in {"sendmessage", "sendphoto"}
        and text in str(call.params.get("text") or call.params.get("caption"))
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
