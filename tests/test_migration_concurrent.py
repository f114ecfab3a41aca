"""Revisions that build an index CONCURRENTLY in an autocommit block (the README's recipe), by
the embedded migrator and the CLI: on a populated shop on both backends; on PostgreSQL writes
go on during the build while the migration lock holds and the revision is recorded only at its
end, and a build that died (the migrator killed mid-build) is built again at the next start."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.dao.database import create_engine
from bot.migration import MigrationOptions, migrate
from bot.migration.concurrent import index_built_concurrently
from tests.migrations_testonly.living_shop import open_shop, shop_rows
from tests.migrations_testonly.scenarios import real_head, scenario, version
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import (
    BotProcess,
    bot_env,
    clean_env,
    run_alembic,
    run_main,
    write_alembic_ini,
)

INDEX = "ix_purchases_testonly_amount"
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
# A write that waits longer than this for a lock counts as blocked by the build.
WRITE_PATIENCE_MS = 1000


def _index_state(database: ThrowawayDatabase) -> list[tuple[object, ...]]:
    """The test index as the catalog has it: PostgreSQL (valid?, its columns); SQLite (name)."""
    if database.backend == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND name = :name"
    else:
        sql = (
            "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"
        )
    return fetch_all(database, sql, name=INDEX)


def test_a_concurrent_index_applies_and_downgrades_on_a_populated_shop(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    open_shop(database, shop_rows(purchases=200))
    versions = scenario("concurrent_index", into=tmp_path)

    upgraded = run_main(
        ["--migrate-only"], bot_env(database, EXTRA_MIGRATION_DIRS=str(versions)), tmp_path
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert version(database) == ["concurrent_index1"]
    assert fetch_all(database, "SELECT count(*) FROM purchases") == [(200,)]
    if database.backend == "sqlite":
        assert _index_state(database) == [(INDEX,)]
    else:
        assert _index_state(database) == [
            (True, f"CREATE INDEX {INDEX} ON public.purchases USING btree (amount)")
        ]

    ini = write_alembic_ini(tmp_path / "alembic.ini", versions)
    env = clean_env(DATABASE_URL=database.url_string)
    downgraded = run_alembic(["downgrade", real_head()], env, ini=ini)

    assert downgraded.returncode == 0, downgraded.stdout + downgraded.stderr
    assert version(database) == [real_head()]
    assert _index_state(database) == []


@asynccontextmanager
async def _writer_holding_purchases(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that has written to purchases and stays open: a concurrent build waits
    for it to end before the index is valid, a plain one before it may start."""
    async with engine.connect() as conn:
        await conn.execute(text("UPDATE purchases SET amount = amount WHERE id = 1"))
        yield conn
        await conn.commit()


async def _build_waiting(engine: AsyncEngine) -> None:
    """Until a CREATE INDEX on purchases waits for a lock (the open writer's)."""
    sql = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query ILIKE 'CREATE INDEX%'"
    )
    for _ in range(400):
        async with engine.connect() as conn:  # a transaction reads one snapshot of the stats
            if (await conn.execute(sql)).scalar():
                return
        await asyncio.sleep(0.025)
    raise AssertionError("the index build never started waiting")


async def _insert_purchase(engine: AsyncEngine) -> bool:
    """Whether another buyer's purchase is written while the build runs (False: it waited
    past WRITE_PATIENCE_MS for a lock)."""
    async with engine.begin() as conn:
        await conn.execute(text(f"SET LOCAL lock_timeout = '{WRITE_PATIENCE_MS}ms'"))
        try:
            await conn.execute(
                text(
                    "INSERT INTO purchases (user_id, product_id, amount, currency, provider, "
                    "charge_id) SELECT user_id, product_id, 7, currency, provider, 'during' "
                    "FROM purchases WHERE id = 1"
                )
            )
        except DBAPIError as error:
            if "lock timeout" not in str(error):
                raise
            return False
    return True


async def _held_by_migrator(engine: AsyncEngine) -> tuple[int, list[str]]:
    """The advisory locks held right now, and the recorded revision."""
    async with engine.connect() as conn:
        locks = await conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        recorded = await conn.execute(text("SELECT version_num FROM alembic_version"))
        return int(locks.scalar_one()), [str(row[0]) for row in recorded]


@ON_POSTGRESQL
@pytest.mark.parametrize(
    ("scenario_name", "writes_go_on"), [("concurrent_index", True), ("plain_index", False)]
)
async def test_writes_go_on_while_the_index_is_built_concurrently(
    database: ThrowawayDatabase, tmp_path: Path, scenario_name: str, writes_go_on: bool
) -> None:
    """The plain build is the control: the same measure shows it blocking the write."""
    await asyncio.to_thread(open_shop, database, shop_rows(purchases=50))
    engine = create_engine(database.url)
    options = MigrationOptions(
        ddl_lock_timeout=60, extra_version_locations=(scenario(scenario_name, into=tmp_path),)
    )
    try:
        async with _writer_holding_purchases(engine):
            migrating = asyncio.create_task(migrate(engine, options))
            await _build_waiting(engine)
            assert await _insert_purchase(engine) is writes_go_on
            assert await _held_by_migrator(engine) == (1, [real_head()])
        report = await migrating
    finally:
        await engine.dispose()

    assert [applied.revision for applied in report.applied] == [f"{scenario_name}1"]
    assert (await asyncio.to_thread(_index_state, database))[0][0] is True
    during = await asyncio.to_thread(
        fetch_all, database, "SELECT count(*) FROM purchases WHERE charge_id = 'during'"
    )
    assert during == [(1 if writes_go_on else 0,)]


def _make_dead_build(database: ThrowawayDatabase) -> None:
    """What a concurrent build that failed leaves: the index, INVALID (a unique build over
    duplicate values fails after the index is in the catalog)."""

    async def run() -> None:
        engine = create_engine(database.url)
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                with pytest.raises(DBAPIError, match="could not create unique index"):
                    await conn.execute(
                        text(f"CREATE UNIQUE INDEX CONCURRENTLY {INDEX} ON purchases (currency)")
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())


@ON_POSTGRESQL
def test_an_index_a_dead_build_left_invalid_is_built_again(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    open_shop(database, shop_rows(purchases=50))
    _make_dead_build(database)
    assert _index_state(database)[0][0] is False
    versions = scenario("concurrent_index", into=tmp_path)

    upgraded = run_main(
        ["--migrate-only"], bot_env(database, EXTRA_MIGRATION_DIRS=str(versions)), tmp_path
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert f"index {INDEX} was left invalid by a concurrent build" in upgraded.stderr
    assert version(database) == ["concurrent_index1"]
    assert _index_state(database) == [
        (True, f"CREATE INDEX {INDEX} ON public.purchases USING btree (amount)")
    ]


@ON_POSTGRESQL
def test_a_migrator_killed_mid_build_leaves_nothing_recorded_and_the_next_start_builds_it(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    """SIGKILL while the build waits, and the database drops its session as it would a dead
    client's: the index is left INVALID and the revision unrecorded; the next start builds it."""
    open_shop(database, shop_rows(purchases=50))
    env = bot_env(
        database,
        EXTRA_MIGRATION_DIRS=str(scenario("concurrent_index", into=tmp_path)),
        DDL_LOCK_TIMEOUT="60",
    )

    async def kill_mid_build() -> None:
        engine = create_engine(database.url)
        try:
            async with _writer_holding_purchases(engine) as writer:
                with BotProcess(["--migrate-only"], env, tmp_path) as bot:
                    await _build_waiting(engine)
                    bot.stop(signal.SIGKILL)
                await writer.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query ILIKE 'CREATE INDEX%'"
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(kill_mid_build())
    assert version(database) == [real_head()]
    assert _index_state(database)[0][0] is False

    restarted = run_main(["--migrate-only"], env, tmp_path)

    assert restarted.returncode == 0, restarted.stderr
    assert version(database) == ["concurrent_index1"]
    assert _index_state(database)[0][0] is True


@pytest.mark.parametrize(
    ("statement", "name"),
    [
        ("CREATE INDEX CONCURRENTLY ix_a ON t (a)", "ix_a"),
        ("create unique index concurrently IX_B on t (b)", "ix_b"),
        ('CREATE INDEX CONCURRENTLY IF NOT EXISTS "Mixed ""Q""" ON t (c)', 'Mixed "Q"'),
        ("CREATE INDEX ix_plain ON t (a)", None),
        ("DROP INDEX CONCURRENTLY ix_a", None),
    ],
)
def test_which_statements_build_an_index_concurrently(statement: str, name: str | None) -> None:
    assert index_built_concurrently(statement) == name


@ON_POSTGRESQL
async def test_the_migrators_session_never_reaches_the_bots_connections(
    database: ThrowawayDatabase,
) -> None:
    """Its name, its DDL lock_timeout and its advisory lock end with it: the connection is
    thrown away, not handed back to the pool the bot's queries take theirs from."""
    engine = create_engine(database.url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:  # the pool's one connection, before
            before = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await migrate(engine, MigrationOptions(ddl_lock_timeout=9))
        async with engine.connect() as conn:
            session = await conn.execute(
                text(
                    "SELECT pg_backend_pid(), current_setting('application_name'), "
                    "current_setting('lock_timeout'), (SELECT count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database()))"
                )
            )
            pid, name, lock_timeout, advisory_locks = session.one()
    finally:
        await engine.dispose()
    assert pid != before  # the migrator took the pooled one, and it was closed
    assert (name, lock_timeout, advisory_locks) == ("shopbot", "0", 0)
