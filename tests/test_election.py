"""The poller election (bot/serving/election.py, bot/serving/polling.py) in-process, against a real
PostgreSQL and a real SQLite file: one instance wins, another stands by naming it until it lets go;
a poller whose lock connection is killed (or whose lock file is removed) finds out, stops polling
and stands by; bots sharing a database, and the migration lock, do not get in each other's way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.dao.database import create_engine
from bot.migration.locks import migration_lock
from bot.migration.revisions import VERSION_TABLE
from bot.serving.election import (
    POLLER_NAME,
    FilePollerLock,
    PollerElection,
    PollerLock,
    poller_lock,
)
from bot.serving.health import Readiness
from bot.serving.polling import SchemaCheck, Standby
from tests.support.databases import ThrowawayDatabase
from tests.support.processes import TEST_TOKEN
from tests.support.replica import Database, ReplicaPair

BOT = 6_123_456_789  # bot ids outgrow an int4
OTHER_BOT = 5_000_000_001
QUICK = {"standby_interval": 0.02, "check_interval": 0.02}


async def _yes() -> bool:
    return True


async def _no() -> bool:
    return False


async def _win(election: PollerElection) -> None:
    await election.win(may_try=_yes, may_lead=_yes)


def _lock(engine: AsyncEngine, bot_id: int = BOT) -> PollerLock:
    lock = poller_lock(engine, bot_id)
    assert lock is not None
    return lock


async def _take_away(database: ThrowawayDatabase, engine: AsyncEngine, held: PollerLock) -> None:
    """What makes a poller lose its lock: on PostgreSQL its connection is killed; on SQLite
    its lock file is removed (a new one could be locked by anyone)."""
    if database.backend == "postgresql":
        async with engine.connect() as admin:
            killed = await admin.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE :name AND datname = current_database() "
                    "AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                    "AND granted)"
                ),
                {"name": f"{POLLER_NAME} %"},
            )
        assert killed == 1
    else:
        assert isinstance(held, FilePollerLock)
        held.path.unlink()


@pytest.fixture
async def locks(engine: AsyncEngine) -> AsyncIterator[list[PollerLock]]:
    """Two instances' locks for the same bot, released at the end."""
    made = [_lock(engine), _lock(engine)]
    yield made
    for lock in made:
        await lock.release()


async def test_one_wins_the_other_stands_by_until_it_lets_go(
    locks: list[PollerLock], log: list[str]
) -> None:
    first, second = (PollerElection(lock, **QUICK) for lock in locks)
    await asyncio.wait_for(_win(first), 10)
    assert await locks[0].still_held()

    standing_by = asyncio.create_task(_win(second))
    await asyncio.sleep(0.3)
    assert not standing_by.done()
    [news] = [line for line in log if "standing by:" in line]  # once, not every round
    assert f"{POLLER_NAME} pid=" in news and news.endswith("polls for updates\n")

    await first.step_down()
    await asyncio.wait_for(standing_by, 10)
    assert await locks[1].still_held()
    assert not await locks[0].still_held()


async def test_a_standby_whose_schema_does_not_fit_never_keeps_the_lock(
    locks: list[PollerLock],
) -> None:
    not_trying = asyncio.create_task(
        PollerElection(locks[0], **QUICK).win(may_try=_no, may_lead=_yes)
    )
    refusing = asyncio.create_task(
        PollerElection(locks[1], **QUICK).win(may_try=_yes, may_lead=_no)
    )
    await asyncio.sleep(0.3)
    assert not not_trying.done() and not refusing.done()
    for task in (not_trying, refusing):
        task.cancel()
    await asyncio.gather(not_trying, refusing, return_exceptions=True)
    assert not await locks[0].still_held()
    assert not await locks[1].still_held()


async def test_a_poller_that_loses_its_lock_steps_down_and_another_takes_over(
    database: ThrowawayDatabase, engine: AsyncEngine, locks: list[PollerLock]
) -> None:
    poller, standby = (PollerElection(lock, **QUICK) for lock in locks)
    await asyncio.wait_for(_win(poller), 10)
    standing_by = asyncio.create_task(_win(standby))
    lost = asyncio.create_task(poller.watch(asyncio.Event()))
    await asyncio.sleep(0.1)
    assert not lost.done()

    await _take_away(database, engine, locks[0])

    assert await asyncio.wait_for(lost, 10)
    await poller.step_down()
    await asyncio.wait_for(standing_by, 10)
    assert await locks[1].still_held()


async def test_other_bots_and_the_migration_lock_do_not_block_the_poller(
    engine: AsyncEngine, locks: list[PollerLock]
) -> None:
    other_bot = _lock(engine, OTHER_BOT)
    try:
        async with (
            engine.connect() as conn,
            migration_lock(conn, version_table=VERSION_TABLE, timeout=5, name="test migrator"),
        ):
            assert await locks[0].try_acquire()
            assert await other_bot.try_acquire()
            assert not await locks[1].try_acquire()
    finally:
        await other_bot.release()


async def test_an_in_memory_database_needs_no_election() -> None:
    memory = create_engine(make_url("sqlite+aiosqlite:///:memory:"))
    try:
        assert poller_lock(memory, BOT) is None
    finally:
        await memory.dispose()


async def test_a_poller_that_loses_its_lock_stops_polling_and_stands_by_again(
    database: ThrowawayDatabase, engine: AsyncEngine, locks: list[PollerLock]
) -> None:
    await migration.migrate(engine)  # a standby takes over only on a schema that fits
    readiness = Readiness(role="standby", schema="at head")
    schema = SchemaCheck(engine, migration.MigrationOptions(), readiness)
    standby = Standby(PollerElection(locks[0], **QUICK), schema, readiness)
    polling: asyncio.Queue[tuple[str, str]] = asyncio.Queue()  # (what, the role then)

    async def poll() -> None:
        polling.put_nowait(("started", readiness.role))
        try:
            await asyncio.Event().wait()
        finally:
            polling.put_nowait(("stopped", readiness.role))

    async def next_event() -> tuple[str, str]:
        return await asyncio.wait_for(polling.get(), 10)

    serving = asyncio.create_task(standby.serve(Bot(TEST_TOKEN), poll, lambda: None))
    assert await next_event() == ("started", "poller")
    await _take_away(database, engine, locks[0])
    assert await next_event() == ("stopped", "standby")
    assert await next_event() == ("started", "poller")  # the lock was free: won again

    serving.cancel()  # a stop (SIGTERM): polling ends and the lock is let go
    await asyncio.gather(serving, return_exceptions=True)
    assert await next_event() == ("stopped", "standby")
    assert not await locks[0].still_held()
    assert await locks[1].try_acquire()


async def test_the_standbys_schema_check_follows_the_database(engine: AsyncEngine) -> None:
    await migration.migrate(engine)
    readiness = Readiness(role="standby", schema="at head")
    strict = SchemaCheck(engine, migration.MigrationOptions(), readiness)
    tolerant = SchemaCheck(
        engine, migration.MigrationOptions(allow_unknown_revision=True), Readiness(role="standby")
    )
    assert await strict.fits(fresh=True)

    async with engine.begin() as conn:  # a newer release migrated meanwhile
        await conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'f00dfeedbeef'"))

    assert await strict.fits()  # read again only after its interval...
    assert not await strict.fits(fresh=True)  # ...or just before taking over
    assert readiness.schema.startswith("database at f00dfeedbeef, unknown to this code")
    assert await tolerant.fits(fresh=True)  # ALLOW_UNKNOWN_REVISION


@pytest.mark.slow
async def test_a_poller_whose_server_restarts_steps_down_quietly(
    replicated: Database, pair: ReplicaPair
) -> None:
    """PostgreSQL going away (a restart) breaks the lock's connection under the poller: it
    finds the lock lost and lets go of what is left without an error, the server still down
    (the process stands by, and polls again once it wins)."""
    engine = create_engine(replicated.primary.url)
    try:
        lock = _lock(engine)
        poller = PollerElection(lock, **QUICK)
        await asyncio.wait_for(_win(poller), 10)
        with pair.primary_stopped():
            assert await asyncio.wait_for(poller.watch(asyncio.Event()), 30)
            await poller.step_down()  # the server still away: nothing to tell it
        assert not await lock.still_held()
    finally:
        await engine.dispose()
