"""/readyz follows Redis, in-process: bot.serving.health's readiness route with the real watcher
(`bot.serving.storage.watch_redis`) on a redis-server of the test's own, stopped and started again.
Not ready ("storage": "down", 503) while it is gone, ready again once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.dao.database import create_engine
from bot.serving.health import SCHEMA_AT_HEAD, Readiness, add_health_routes
from bot.serving.storage import StorageHealth, watch_redis
from tests.support.databases import ThrowawayDatabase
from tests.support.redis import ThrowawayRedis

# The storage does not depend on the database: SQLite is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
async def probe(
    database: ThrowawayDatabase, redis_server: ThrowawayRedis
) -> AsyncIterator[TestClient[Any, Any]]:
    """A client of /readyz as the bot serves it with REDIS_URL, its watcher running."""
    readiness = Readiness(role="poller", schema=SCHEMA_AT_HEAD)
    health = StorageHealth(redis_server.where)
    redis = Redis.from_url(redis_server.url)
    engine = create_engine(database.url)
    app = web.Application()
    add_health_routes(app, readiness, engine, health)
    watching = asyncio.create_task(watch_redis(redis, health))
    try:
        async with TestClient(TestServer(app)) as client:
            yield client
    finally:
        watching.cancel()
        await redis.aclose()
        await engine.dispose()


async def readyz(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status, await response.json()


async def until_ready_is(client: TestClient[Any, Any], ready: bool) -> dict[str, Any]:
    """/readyz's report once its `ready` is `ready` (the watcher pings every second)."""
    async with asyncio.timeout(15):
        while True:
            status, report = await readyz(client)
            if report["ready"] is ready:
                assert status == (200 if ready else 503), report
                return report
            await asyncio.sleep(0.1)


async def test_readyz_is_not_ready_while_redis_is_down_and_ready_once_it_is_back(
    probe: TestClient[Any, Any], redis_server: ThrowawayRedis
) -> None:
    assert await readyz(probe) == (
        200,
        {
            "role": "poller",
            "schema": "at head",
            "database": "reachable",
            "stopping": False,
            "storage": "up",
            "ready": True,
        },
    )

    redis_server.stop()
    down = await until_ready_is(probe, False)
    assert (down["storage"], down["database"], down["schema"]) == ("down", "reachable", "at head")

    redis_server.start()
    back = await until_ready_is(probe, True)
    assert back["storage"] == "up"
