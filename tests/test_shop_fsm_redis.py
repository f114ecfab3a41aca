"""With REDIS_URL the admin forms live in the real local Redis (aiogram's RedisStorage) and
survive a restart of the bot: a new dispatcher and storage on the same Redis and database
carry on the form. Keys carry the bot's id (from its token), unique per test, and are
removed afterwards: a shared Redis is never flushed."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.models import Category
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import TEST_TOKEN
from tests.support.shop import running_shop

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


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


async def add_books(session: AsyncSession) -> None:
    session.add(Category(name="E-books"))


@pytest.mark.parametrize("backend", ["sqlite"])  # the storage does not depend on the database
async def test_a_half_filled_form_survives_a_restart(
    database: ThrowawayDatabase, bot_id: int, client: redis.Redis
) -> None:
    state_key, data_key = (f"fsm:{bot_id}:{ADMIN}:{ADMIN}:{part}" for part in ("state", "data"))
    settings = {
        "admin_ids": str(ADMIN),
        "redis_url": REDIS_URL,
        "bot_token": f"{bot_id}:{TEST_TOKEN.split(':', 1)[1]}",
    }
    async with running_shop(database, **settings) as shop:
        await shop.run(add_books)
        admin = shop.chat(ADMIN)
        panel = await admin.tap(await admin.send("/start"), "Admin panel")
        await admin.tap(panel, "Add product")
        assert "description" in (await admin.send("Kept across restarts")).text
        assert client.get(state_key) == "AddProduct:description"
        kept = json.loads(client.get(data_key) or "{}")
        assert kept["name"] == "Kept across restarts"
        assert kept["form_token"]  # what makes a form saved twice one product

    async with running_shop(database, **settings) as shop:
        admin = shop.chat(ADMIN)
        assert "Choose its category" in (await admin.send("Its description")).text
        assert (await admin.send("/cancel")).text == "Cancelled."
        assert client.get(state_key) is None
