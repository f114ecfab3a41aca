"""SQLite's writers of one process queue on the event loop (bot.dao.sqlite_writer): a write
transaction asks SQLite for the write lock only once the one before it has ended, on a real
SQLite file; a writer of another engine (another process's stands for it) is still waited for,
not failed; a cancelled BEGIN gives the lock back."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.dao.database import create_engine, create_session_factory, serving_session_factory
from bot.dao.models import KIND_STOCK, Category, Product
from tests.support.databases import SLOW_SQLITE_READ, ThrowawayDatabase, database_locked
from tests.support.processes import PROJECT_ROOT, clean_env

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
async def engine(database: ThrowawayDatabase) -> AsyncIterator[AsyncEngine]:
    created = create_engine(database.url)
    await migration.migrate(created)
    yield created
    await created.dispose()


def immediate_begins(engine: AsyncEngine) -> list[str]:
    """Every BEGIN IMMEDIATE the engine sends SQLite, as it sends it."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    return sent


async def add_category(
    engine: AsyncEngine,
    name: str,
    hold: asyncio.Event | None = None,
    written: asyncio.Event | None = None,
) -> None:
    """One write transaction of the kind updates make; `written` is set once it has written,
    and `hold` keeps it open until set."""
    async with serving_session_factory(engine)() as session, session.begin():
        await session.execute(text("INSERT INTO categories (name) VALUES (:name)"), {"name": name})
        if written is not None:
            written.set()
        if hold is not None:
            await hold.wait()


async def test_a_second_writer_asks_sqlite_only_once_the_first_has_committed(
    engine: AsyncEngine,
) -> None:
    begins = immediate_begins(engine)
    hold, written = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(add_category(engine, "first", hold, written))
    await written.wait()
    second = asyncio.create_task(add_category(engine, "second"))
    await asyncio.sleep(0.2)  # time to reach SQLite, were it not queued on the loop

    assert len(begins) == 1 and not second.done()
    hold.set()
    await asyncio.gather(first, second)

    assert len(begins) == 2
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM categories ORDER BY id"))).all()
    assert [row[0] for row in names] == ["first", "second"]


async def test_many_writers_at_once_all_commit(engine: AsyncEngine) -> None:
    await asyncio.gather(*(add_category(engine, f"c{number}") for number in range(40)))

    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM categories"))).scalar_one()
    assert count == 40


async def test_a_writer_of_another_engine_is_waited_for_not_failed(
    engine: AsyncEngine, database: ThrowawayDatabase
) -> None:
    """Another engine has a pool and a writer lock of its own, as another process has: SQLite's
    busy timeout still makes this process's writer wait for it."""
    async with database_locked(database, "categories"):
        writing = asyncio.create_task(add_category(engine, "after the other"))
        await asyncio.sleep(0.3)
        assert not writing.done()
    await writing


async def test_a_writer_cut_short_in_its_begin_gives_the_lock_back(
    engine: AsyncEngine, database: ThrowawayDatabase
) -> None:
    """A deadline that cancels a write transaction waiting in SQLite for another process:
    the next writer of this process is not left waiting for a lock nobody holds."""
    holding = asyncio.Event()

    async def other_process() -> None:
        async with database_locked(database, "categories"):
            holding.set()
            await asyncio.sleep(0.6)

    other = asyncio.create_task(other_process())
    await holding.wait()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await add_category(engine, "cut short")
    await other

    async with asyncio.timeout(5):
        await add_category(engine, "next")


async def test_a_writer_cut_short_mid_statement_gives_the_lock_back(engine: AsyncEngine) -> None:
    """Cancelled while SQLite runs one of its statements: the pool drops (terminates) the
    connection, with the transaction, and the lock goes with it."""
    slow = text(SLOW_SQLITE_READ)

    async def write_then_read_long() -> None:
        async with serving_session_factory(engine)() as session, session.begin():
            await session.execute(text("INSERT INTO categories (name) VALUES ('cut')"))
            await session.execute(slow)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(write_then_read_long(), 0.2)

    async with asyncio.timeout(5):
        await add_category(engine, "next")


async def test_the_stock_loader_in_another_process_and_this_process_s_writers_all_finish(
    engine: AsyncEngine, database: ThrowawayDatabase, tmp_path: Path
) -> None:
    """A real second process holding SQLite's write lock for a whole load (`python -m
    bot.stock load`, 20,000 units in one transaction) while this process keeps writing: each
    waits for the other in SQLite's busy handler, on the connection's thread, and nothing fails
    with `database is locked`."""
    async with create_session_factory(engine)() as session, session.begin():
        product = Product(
            category=Category(name="Keys"), name="K", price=5, currency="XTR", kind=KIND_STOCK
        )
        session.add(product)
        await session.flush()
        product_id = product.id
    units = tmp_path / "units.txt"
    units.write_text("".join(f"UNIT-{n:06d}\n" for n in range(20_000)), encoding="utf-8")
    env = clean_env(DATABASE_URL=database.url_string, PYTHONPATH=str(PROJECT_ROOT))
    loader = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.stock", "load", str(product_id), str(units),
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    written = 0
    while loader.returncode is None:
        await add_category(engine, f"while loading {written}")
        written += 1
        await asyncio.sleep(0.01)
    out, err = await loader.communicate()

    assert (loader.returncode, err.decode()) == (0, "")
    assert out.decode().startswith(f"product #{product_id}: added 20000")
    async with engine.connect() as conn:
        categories = await conn.scalar(text("SELECT count(*) FROM categories"))
    assert written >= 2 and categories == written + 1  # "Keys" and every one written meanwhile
