"""Redis (the form storage) lost while the bot serves, in-process on a redis-server of the
test's own: the user of an update that meets it down is told, once, in their language (to
try again when polling; that it will be answered, with a webhook, which answers 503 so
Telegram delivers the update again and it is handled once Redis is back); a pre-checkout is
refused with the same words; a group hears nothing; the log has one line each way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from aiogram.fsm.storage.redis import RedisStorage
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.i18n import speaking
from bot.i18n.languages import RUSSIAN
from bot.serving.storage import ANSWERED_LATER, TRY_AGAIN, StorageHealth, watch_redis
from bot.serving.webhook import _CheckedRequestHandler
from bot.shop.invoices import build_payload
from tests.support.databases import ThrowawayDatabase
from tests.support.redis import ThrowawayRedis
from tests.support.shop import ShopBot, running_shop, texts

# The storage does not depend on the database: SQLite is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

ALICE, BORIS, GROUP = 6001, 6002, -100777
SECRET = "outage-secret"
WEBHOOK_PATH = "/telegram/webhook"


def russian(text: Any) -> str:
    with speaking(RUSSIAN):
        return str(text)


@contextmanager
def redis_down(redis_server: ThrowawayRedis) -> Iterator[None]:
    redis_server.stop()
    try:
        yield
    finally:
        redis_server.start()


async def until_back(shop: ShopBot) -> None:
    """The watcher (as the bot runs it after start-up) sees Redis again."""
    health: StorageHealth = shop.dispatcher["storage_health"]
    storage = shop.dispatcher.storage
    assert isinstance(storage, RedisStorage)
    watching = asyncio.create_task(watch_redis(storage.redis, health))
    try:
        for _ in range(300):
            if health.available:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the watcher did not see Redis back within 15 s")
    finally:
        watching.cancel()


def lines(shop: ShopBot, level: str, needle: str) -> list[str]:
    return [line for line in shop.log if line.startswith(level) and needle in line]


async def test_polling_users_are_told_to_try_again_in_their_language(
    database: ThrowawayDatabase, redis_server: ThrowawayRedis
) -> None:
    async with running_shop(database, redis_url=redis_server.url) as shop:
        shop.telegram.set_client_language(BORIS, "ru")
        alice, boris = shop.chat(ALICE), shop.chat(BORIS)
        with redis_down(redis_server):
            assert (await alice.send("/start")).text == str(TRY_AGAIN)
            assert (await boris.send("/start")).text == russian(TRY_AGAIN)
            mark = shop.telegram.mark()
            await shop.feed(shop.telegram.group_text_update(ALICE, "/start", chat_id=GROUP))
            assert shop.telegram.calls[mark:] == []  # a group hears nothing
            refused = await alice.pre_checkout(
                currency="XTR", total_amount=150, payload=build_payload(1, ALICE)
            )
            assert refused.params["ok"] is False
            assert refused.params["error_message"] == str(TRY_AGAIN)
        await until_back(shop)

        menu = await alice.send("/start")  # handled again
        assert any("Catalog" in label for label in menu.labels), menu.text
        # One line each way, none per update.
        [lost, back] = [line for line in shop.log if line.startswith(("WARNING", "ERROR"))]
        assert lost.startswith("ERROR") and "lost Redis at" in lost
        assert "is back; handling updates again (4 met it down meanwhile)" in back


@asynccontextmanager
async def webhook(shop: ShopBot) -> AsyncIterator[TestClient[Any, Any]]:
    """The bot's webhook request handler on a local test server."""
    settings = shop.dispatcher["settings"]
    handler = _CheckedRequestHandler(
        shop.dispatcher,
        shop.bot,
        handle_in_background=False,
        secret_token=SECRET,
        in_flight=settings.updates_in_flight,
    )
    handler.serving = True
    app = web.Application()
    handler.register(app, path=WEBHOOK_PATH)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_webhook_answers_503_until_redis_is_back_and_the_user_is_told_once(
    database: ThrowawayDatabase, redis_server: ThrowawayRedis
) -> None:
    settings = {"webhook_url": "https://shop.example.com", "webhook_secret": SECRET}
    async with running_shop(database, redis_url=redis_server.url, **settings) as shop:
        update = {"update_id": 41, **shop.telegram.text_update(ALICE, "/start")}

        async def deliver() -> int:
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            response = await client.post(WEBHOOK_PATH, json=update, headers=headers)
            return response.status

        async with webhook(shop) as client:
            with redis_down(redis_server):
                assert await deliver() == 503
                assert await deliver() == 503  # Telegram delivers it again: told once
                assert texts(shop.chat(ALICE).calls_since(0)) == [str(ANSWERED_LATER)]
            await until_back(shop)
            assert await deliver() == 200

        [told, menu] = texts(shop.chat(ALICE).calls_since(0))
        assert told == str(ANSWERED_LATER) and menu != told  # the update was handled at last
        assert "(2 met it down meanwhile)" in lines(shop, "WARNING", "is back")[0]
