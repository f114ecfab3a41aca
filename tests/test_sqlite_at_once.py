"""SQLite statements that cannot wait run at once on the event loop's thread, on a real SQLite
file (bot.dao.sqlite_driver): an update's reads and its whole write transaction, commit
included, make no trip to aiosqlite's thread; a read that runs long, or that would wait for
another connection's lock, gives way to that thread, and the loop goes on meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.dao.database import create_engine, reading, serving_session_factory
from bot.dao.models import Category
from tests.support.databases import SLOW_SQLITE_READ, ThrowawayDatabase, database_locked

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

WHERE = "SELECT thread_id()"  # the thread a statement runs on (a function of each connection)


@pytest.fixture
async def engine(database: ThrowawayDatabase) -> AsyncIterator[AsyncEngine]:
    created = create_engine(database.url)
    await migration.migrate(created)

    @event.listens_for(created.sync_engine, "connect")
    def _thread_id(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)

    await created.dispose()  # the migration's connections have no thread_id()
    yield created
    await created.dispose()


class Ticker:
    """Counts how often the event loop got round to it while a block ran."""

    def __init__(self) -> None:
        self.ticks = 0

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._task.cancel()


async def test_an_update_s_reads_and_write_transaction_run_on_the_loop_s_thread(
    engine: AsyncEngine,
) -> None:
    loop_thread = threading.get_ident()
    async with reading(engine).connect() as connection:
        assert await connection.scalar(text(WHERE)) == loop_thread
    async with serving_session_factory(engine)() as session, session.begin():
        await session.execute(text("INSERT INTO categories (name) VALUES ('at once')"))
        assert await session.scalar(text(WHERE)) == loop_thread
    async with reading(engine).connect() as connection:
        assert await connection.scalar(select(Category.name)) == "at once"


async def test_a_long_read_goes_to_the_connection_s_thread_and_the_loop_goes_on(
    engine: AsyncEngine,
) -> None:
    async with reading(engine).connect() as connection, Ticker() as ticker:
        row = (await connection.execute(text(f"{SLOW_SQLITE_READ}, thread_id()"))).one()
    assert row[0] == 3_000_000
    assert row[1] != threading.get_ident()
    assert ticker.ticks >= 3  # the loop ran while SQLite counted


async def test_a_writer_s_long_read_keeps_its_transaction(engine: AsyncEngine) -> None:
    """Cut short on the loop's thread, the read runs again on the connection's: SQLite leaves
    the transaction (and what it wrote) open when a read is interrupted."""
    async with serving_session_factory(engine)() as session, session.begin():
        await session.execute(text("INSERT INTO categories (name) VALUES ('kept')"))
        row = (await session.execute(text(f"{SLOW_SQLITE_READ}, thread_id()"))).one()
        assert row[0] == 3_000_000 and row[1] != threading.get_ident()
        assert await session.scalar(text(WHERE)) == threading.get_ident()
    async with reading(engine).connect() as connection:
        assert await connection.scalar(select(Category.name)) == "kept"


async def test_reads_run_at_once_while_another_process_writes(
    engine: AsyncEngine, database: ThrowawayDatabase
) -> None:
    locked = database_locked(database, "categories")
    async with locked, reading(engine).connect() as connection:
        assert await connection.scalar(text(WHERE)) == threading.get_ident()


async def test_a_writer_waits_for_another_process_on_the_connection_s_thread(
    engine: AsyncEngine, database: ThrowawayDatabase
) -> None:
    """BEGIN IMMEDIATE is refused at once while another process writes; it waits on the
    thread, as long as the session's lock wait allows, and the loop goes on meanwhile."""
    letting_go = asyncio.Event()

    async def other_process() -> None:
        async with database_locked(database, "categories"):
            await asyncio.sleep(0.5)
            letting_go.set()

    other = asyncio.create_task(other_process())
    await asyncio.sleep(0.1)
    writing = serving_session_factory(engine, lock_wait=5)
    async with Ticker() as ticker, writing() as session, session.begin():
        await session.execute(text("INSERT INTO categories (name) VALUES ('after')"))
        assert letting_go.is_set()
    await other
    assert ticker.ticks >= 10

    async with database_locked(database, "categories"):
        with pytest.raises(Exception, match="database is locked"):
            async with serving_session_factory(engine, lock_wait=0.2)() as session:
                await session.execute(text("INSERT INTO categories (name) VALUES ('given up')"))
    async with reading(engine).connect() as connection:
        assert list(await connection.scalars(select(Category.name))) == ["after"]
