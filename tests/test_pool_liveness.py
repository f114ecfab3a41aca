"""PostgreSQL's pooled connections without a ping at every checkout (bot.dao.liveness): one
that sat idle is pinged before use and replaced if the server dropped it, so a restart while
the bot is quiet fails no update; one given back a moment ago is used as is, and if it died
meanwhile, that one statement fails and SQLAlchemy renews the whole pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

import bot.dao.database
from bot.dao.database import create_engine
from tests.support.databases import ThrowawayDatabase

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


async def backend_pid(engine: AsyncEngine) -> int:
    """The server process behind the pooled connection a checkout gets."""
    async with engine.connect() as conn:
        pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return pid


async def terminate(database: ThrowawayDatabase, pid: int) -> None:
    """What a server restart does to a connection: its session ends."""
    admin = create_engine(database.url, poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


@asynccontextmanager
async def pinging_when_idle(
    database: ThrowawayDatabase, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncEngine]:
    """The bot's engine, pinging connections idle longer than `seconds`."""
    monkeypatch.setattr(bot.dao.database, "PING_IDLE_SECONDS", seconds)
    engine = create_engine(database.url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    database: ThrowawayDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pinging_when_idle(database, 0.0, monkeypatch) as engine:  # idle at once
        dropped = await backend_pid(engine)
        await terminate(database, dropped)

        assert await backend_pid(engine) != dropped  # no error: pinged, replaced


async def test_a_connection_busy_a_moment_ago_is_not_pinged_and_one_failure_renews_the_pool(
    database: ThrowawayDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pinging_when_idle(database, 3600.0, monkeypatch) as engine:  # never idle
        dropped = await backend_pid(engine)
        await terminate(database, dropped)

        with pytest.raises(DBAPIError) as failure:
            await backend_pid(engine)
        assert failure.value.connection_invalidated
        assert await backend_pid(engine) != dropped
