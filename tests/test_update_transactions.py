"""What an update's session sends the database, on a real PostgreSQL and a real SQLite file.

PostgreSQL (bot.dao.deferred): reads before the first write run in autocommit on the
session's one connection, so an update that only reads sends no BEGIN and no COMMIT; the
first statement that may write or lock begins the transaction, and everything from there on
commits or rolls back together. SQLite (bot.dao.sqlite_driver): a read, and everything an
update's write transaction sends, run at once on the loop's thread; any other transaction's
statement is one trip to aiosqlite's thread, and a commit with no transaction open makes none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import migration
from bot.dao.catalog import CategoryDAO
from bot.dao.database import create_engine, reading, serving_session_factory
from bot.dao.models import Category
from bot.shop import Shop
from tests.support.databases import ThrowawayDatabase

postgresql = pytest.mark.parametrize("backend", ["postgresql"])
sqlite = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
async def one_connection(database: ThrowawayDatabase) -> AsyncIterator[AsyncEngine]:
    """The bot's engine at head, with a pool of one: every session reuses one connection."""
    engine = create_engine(database.url, pool_size=1, max_overflow=0)
    await migration.migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def in_transaction(session: AsyncSession) -> bool:
    """Whether the server holds a transaction open for the session's connection."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    return bool(driver.is_in_transaction())


async def category_names(engine: AsyncEngine) -> list[str]:
    """What another connection sees committed (a pool of one is given back first)."""
    async with engine.connect() as connection:
        return list((await connection.execute(select(Category.name))).scalars())


@postgresql
async def test_an_update_that_only_reads_sends_no_begin_and_no_commit(
    one_connection: AsyncEngine,
) -> None:
    async with serving_session_factory(one_connection)() as session:
        assert await session.scalar(select(func.count(Category.id))) == 0
        await session.get(Category, 1)
        assert not await in_transaction(session)
        await session.commit()
    async with serving_session_factory(one_connection)() as session:
        await session.execute(select(Category))
        assert not await in_transaction(session)  # deferred again on the reused connection


@postgresql
async def test_the_first_write_begins_one_transaction_that_rolls_back_whole(
    one_connection: AsyncEngine,
) -> None:
    pid = select(func.pg_backend_pid())
    async with serving_session_factory(one_connection)() as session:
        reader = await session.scalar(pid)
        session.add(Category(name="First"))
        await session.flush()
        assert await in_transaction(session)
        await session.execute(update(Category).values(name="Renamed"))
        assert await session.scalar(pid) == reader  # one connection throughout
        assert await session.scalar(select(Category.name)) == "Renamed"  # reads its own write
        await session.rollback()
    assert await category_names(one_connection) == []
    async with serving_session_factory(one_connection)() as session:
        session.add(Category(name="Kept"))
        await session.commit()
    assert await category_names(one_connection) == ["Kept"]


@postgresql
async def test_a_locking_read_begins_the_transaction_and_holds_its_lock(
    database: ThrowawayDatabase, one_connection: AsyncEngine
) -> None:
    async with serving_session_factory(one_connection)() as session:
        session.add(Category(name="Locked"))
        await session.commit()
    other = create_engine(database.url)
    nowait = text("SELECT id FROM categories FOR UPDATE NOWAIT")
    try:
        async with serving_session_factory(one_connection)() as session:
            await session.execute(select(Category).with_for_update())
            assert await in_transaction(session)
            async with other.connect() as connection:
                with pytest.raises(DBAPIError, match="could not obtain lock"):
                    await connection.execute(nowait)
            await session.commit()
        async with other.connect() as connection:
            assert len((await connection.execute(nowait)).all()) == 1
    finally:
        await other.dispose()


@postgresql
async def test_a_savepoint_after_reads_begins_the_transaction(
    one_connection: AsyncEngine,
) -> None:
    """CategoryDAO.create reads the names taken, then inserts in a savepoint."""
    async with serving_session_factory(one_connection)() as session:
        assert await CategoryDAO(session).create("Foo") is not None
        assert await in_transaction(session)
        await session.commit()
    assert await category_names(one_connection) == ["Foo"]


@postgresql
async def test_a_bounded_lock_wait_holds_from_the_first_statement(
    one_connection: AsyncEngine,
) -> None:
    """`SET LOCAL lock_timeout` is not a plain read: it begins the transaction it bounds."""
    async with serving_session_factory(one_connection, lock_wait=0.5)() as session:
        assert await session.scalar(select(func.current_setting("lock_timeout"))) == "500ms"
        assert await in_transaction(session)
        await session.commit()


@postgresql
async def test_a_connection_given_back_mid_deferral_is_transactional_for_the_next_user(
    one_connection: AsyncEngine,
) -> None:
    async with serving_session_factory(one_connection)() as session:
        await session.execute(select(Category))  # deferring, and given back so
    async with one_connection.connect() as connection:  # a plain connection, no deferral
        await connection.execute(insert(Category).values(name="Undone"))
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver.is_in_transaction()
        await connection.rollback()
    assert await category_names(one_connection) == []


@postgresql
async def test_a_connection_lost_while_deferring_is_given_back_quietly(
    one_connection: AsyncEngine,
) -> None:
    """A read cut short (a timeout cancels it) invalidates the connection: the pool takes it
    back with nothing to switch, and the next session gets a new one."""
    async with serving_session_factory(one_connection)() as session:
        await session.execute(select(Category))
        await (await session.connection()).invalidate()
    async with serving_session_factory(one_connection)() as session:
        session.add(Category(name="After"))
        await session.commit()
    assert await category_names(one_connection) == ["After"]


# ---------------------------------------------------------------------------- SQLite


class Trips:
    """Counts the calls an aiosqlite connection runs on its thread."""

    def __init__(self) -> None:
        self.count = 0

    def watch(self, driver: Any) -> None:
        run: Callable[..., Awaitable[Any]] = driver._execute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await run(*args, **kwargs)

        driver._execute = counted

    def taken(self) -> int:
        count, self.count = self.count, 0
        return count


@sqlite
async def test_a_sqlite_statement_of_a_plain_transaction_is_one_trip_to_the_driver_thread(
    one_connection: AsyncEngine,
) -> None:
    """A transaction that does not hold the writer lock (a migration's, a plain
    `engine.begin()`): its BEGIN runs at once, every statement in it one trip."""
    trips = Trips()
    async with one_connection.connect() as connection:
        trips.watch((await connection.get_raw_connection()).driver_connection)
        names = [{"name": f"C{index}"} for index in range(3)]
        await connection.execute(insert(Category), names)  # executemany
        assert trips.taken() == 1  # every row in one trip
        added = await connection.execute(text("INSERT INTO categories (name) VALUES ('D')"))
        assert added.lastrowid == 4
        renamed = await connection.execute(
            update(Category).where(Category.id > 2).values(name=Category.name + "!")
        )
        assert renamed.rowcount == 2
        rows = (
            await connection.execute(select(Category.id, Category.name).order_by(Category.id))
        ).all()
        assert [tuple(row) for row in rows] == [(1, "C0"), (2, "C1"), (3, "C2!"), (4, "D!")]
        assert trips.taken() == 3
        await connection.commit()
        assert trips.taken() == 1
        await connection.execute(select(Category))
        with pytest.raises(IntegrityError):
            await connection.execute(insert(Category).values(name="C0"))
        await connection.rollback()
        assert trips.taken() == 3  # the SELECT, the refused INSERT, the ROLLBACK


@sqlite
async def test_a_sqlite_read_outside_a_transaction_makes_no_trip(
    one_connection: AsyncEngine,
) -> None:
    """An update's reads before its first write (bot.dao.routing) run at once on the loop's
    thread; no BEGIN, and neither the COMMIT nor the pool's rollback on giving the connection
    back sends anything."""
    trips = Trips()
    async with reading(one_connection).connect() as connection:
        trips.watch((await connection.get_raw_connection()).driver_connection)
        assert (await connection.execute(select(Category.name))).all() == []
        await connection.commit()
    assert trips.taken() == 0


# ---------------------------------------------------------------------------- both


async def test_a_start_reads_the_user_once_for_the_language_and_the_registration(
    one_connection: AsyncEngine,
) -> None:
    """The language middleware reads the user before the handler registers them: one read
    serves both, for someone new (then inserted) and for someone known (then left as is)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA")):  # SQLite's own
            statements.append(statement.split()[0])

    event.listen(one_connection.sync_engine, "before_cursor_execute", seen)
    try:
        for expected in (["SELECT", "INSERT", "SELECT"], ["SELECT"]):
            async with serving_session_factory(one_connection)() as session:
                users = Shop.on(session).users
                assert await users.language_of(42) in (None, "en")
                names = {"username": None, "first_name": "Ann", "last_name": None}
                await users.register(42, **names, language="en")
                await session.commit()
            assert statements == expected
            statements.clear()
    finally:
        event.remove(one_connection.sync_engine, "before_cursor_execute", seen)
