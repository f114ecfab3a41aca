"""With REDIS_URL the admin forms live in the real local Redis (aiogram's RedisStorage) and
survive a restart of the bot. Keys carry the bot's id (from its token), unique per test, and
are removed afterwards: a shared Redis is never flushed."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.catalog import CategoryDAO
from bot.keyboards.callbacks import Admin, AdminAction
from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import running_bot

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")  # tests/run sets it
ADMIN = 9001


@pytest.fixture
def bot_id() -> Iterator[int]:
    """A bot id no other test uses: every key the bot writes starts with fsm:<bot id>:.
    aiogram takes the id from the token, so the test gives the bot a token with this id."""
    bot_id = 10**9 + uuid.uuid4().int % 10**9
    yield bot_id
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"fsm:{bot_id}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def one_category(session: AsyncSession) -> None:
    await CategoryDAO(session).create("E-books")


@pytest.mark.parametrize("backend", ["sqlite"])  # the storage does not depend on the database
def test_a_half_filled_form_survives_a_restart(
    database: ThrowawayDatabase, bot_id: int, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    state_key, data_key = (f"fsm:{bot_id}:{ADMIN}:{ADMIN}:{part}" for part in ("state", "data"))
    settings = {
        "ADMIN_IDS": str(ADMIN),
        "REDIS_URL": REDIS_URL,
        "BOT_TOKEN": f"{bot_id}:TEST-token-for-the-fake-bot-api_00",
    }
    try:
        with FakeBotAPI(bot_id=bot_id) as fake:
            with running_bot(database, fake, tmp_path, **settings) as shop:
                shop.run(one_category)
                admin = shop.chat(ADMIN)
                admin.send("/start")
                admin.press(Admin(action=AdminAction.ADD_PRODUCT).pack())
                assert "description" in admin.send("Kept across restarts").text
                shop.settle()
                assert client.get(state_key) == "AddProduct:description"
                assert json.loads(client.get(data_key) or "{}") == {"name": "Kept across restarts"}
                shop.stop()

            with running_bot(database, fake, tmp_path, **settings) as shop:
                admin = shop.chat(ADMIN)
                assert "Choose its category" in admin.send("Its description").text
                assert admin.send("/cancel").text == "Cancelled."
                shop.settle()
                assert client.get(state_key) is None
    finally:
        client.close()
