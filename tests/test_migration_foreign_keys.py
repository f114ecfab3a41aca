"""SQLite foreign keys around the revisions, by the embedded migrator: a batch operation that
rebuilds a referenced table applies on a database with purchases; a revision that leaves
rows pointing at nothing is refused and rolled back; the application keeps enforcing them.
PostgreSQL runs the same revisions as plain ALTERs, for comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from bot.dao.database import create_engine
from bot.migration import MigrationOptions, migrate
from bot.migration.errors import ForeignKeyViolationError, RevisionFailedError
from bot.migration.revisions import alembic_config
from tests.migrations_testonly.scenarios import real_head, scenario
from tests.support.databases import sqlite_database

SEED = [
    "INSERT INTO categories (id, name) VALUES (1, 'Keys'), (2, 'Books')",
    "INSERT INTO users (id, telegram_id, username) VALUES (1, 100, 'alice'), (2, 200, 'bob')",
    "INSERT INTO products (id, category_id, name, description, price, currency, hidden_content)"
    " VALUES (1, 1, 'Key', 'A key', 10, 'XTR', 'K-1'), (2, 2, 'Book', 'A book', 20, 'XTR', 'B')",
    "INSERT INTO purchases (user_id, product_id, amount, currency, provider, charge_id)"
    " VALUES (1, 1, 10, 'XTR', 'stars', 'c1'), (2, 1, 10, 'XTR', 'stars', 'c2'),"
    " (2, 2, 20, 'XTR', 'stars', 'c3')",
]


async def _seeded(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.begin() as conn:
        for statement in SEED:
            await conn.execute(text(statement))


async def _rows(engine: AsyncEngine, sql: str) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql))]


def _with(*names: str, tmp_path: Path) -> MigrationOptions:
    return MigrationOptions(extra_version_locations=(scenario(*names, into=tmp_path),))


async def test_rebuilding_a_referenced_table_keeps_every_row(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seeded(engine)
    purchases = await _rows(engine, "SELECT id, user_id, product_id FROM purchases ORDER BY id")

    report = await migrate(engine, _with("rebuild", tmp_path=tmp_path))

    assert [applied.revision for applied in report.applied] == ["rebuild1"]
    assert await _rows(engine, "SELECT version_num FROM alembic_version") == [("rebuild1",)]
    assert await _rows(engine, "SELECT id, user_id, product_id FROM purchases ORDER BY id") == (
        purchases
    )
    assert await _rows(engine, "SELECT id, description FROM products ORDER BY id") == [
        (1, "A key"),
        (2, "A book"),
    ]
    if engine.dialect.name == "sqlite":
        assert await _rows(engine, "PRAGMA foreign_key_check") == []


async def test_the_application_still_enforces_foreign_keys_after_migrating(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seeded(engine)
    await migrate(engine, _with("rebuild", tmp_path=tmp_path))

    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO purchases (user_id, product_id, amount, currency, provider, "
                    "charge_id) VALUES (1, 999, 10, 'XTR', 'stars', 'orphan')"
                )
            )


async def test_a_revision_leaving_orphans_is_refused_and_rolled_back(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seeded(engine)

    with pytest.raises(RevisionFailedError) as raised:
        await migrate(engine, _with("orphan", tmp_path=tmp_path))

    assert raised.value.revision == "orphan1"
    if engine.dialect.name == "sqlite":  # PostgreSQL refuses the DELETE itself
        assert isinstance(raised.value, ForeignKeyViolationError)
        assert "products rowid 1 -> categories" in str(raised.value)
    assert await _rows(engine, "SELECT count(*) FROM categories") == [(2,)]
    assert await _rows(engine, "SELECT version_num FROM alembic_version") == [(real_head(),)]
    if engine.dialect.name == "sqlite":  # and foreign keys are on again for what follows
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_the_migrators_own_connection_enforces_foreign_keys_again(tmp_path: Path) -> None:
    """One connection for everything (StaticPool): the very connection the migrator turned
    foreign keys off on is the one the application gets next, so it must have them back on.
    (With the bot's NullPool every later connection is new and turns them on itself, which
    is why the tests above cannot see this.)"""
    with sqlite_database(tmp_path) as database:
        engine = create_engine(database.url, poolclass=StaticPool)
        used: set[int] = set()
        sa.event.listen(
            engine.sync_engine, "checkout", lambda dbapi, _record, _proxy: used.add(id(dbapi))
        )
        try:
            await _seeded(engine)  # every revision, on this one connection
            await migrate(engine, _with("rebuild", tmp_path=tmp_path))  # and a rebuild on rows
            async with engine.connect() as conn:
                enforced = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
        finally:
            await engine.dispose()
    assert len(used) == 1  # the migrator's connection and the one read here are the same
    assert enforced == 1


async def test_a_rebuild_inside_someone_elses_transaction_defers_foreign_keys(
    tmp_path: Path,
) -> None:
    """pytest-alembic's downgrade check runs revisions inside a transaction it rolls back,
    where SQLite cannot turn foreign keys off: they are deferred, so a rebuild of a referenced
    table still runs there, and nothing of it stays."""
    with sqlite_database(tmp_path) as database:
        engine = create_engine(database.url)
        await _seeded(engine)
        config = alembic_config((scenario("rebuild", into=tmp_path),))

        def rebuild_in_held_transaction(conn: sa.Connection) -> list[tuple[str]]:
            config.attributes["connection"] = conn
            held = conn.begin()
            conn.execute(text("SELECT 1 FROM purchases"))  # the transaction really began
            command.upgrade(config, "rebuild1")
            assert conn.execute(text("SELECT count(*) FROM purchases")).scalar() == 3
            held.rollback()
            return [tuple(row) for row in conn.execute(text("SELECT * FROM alembic_version"))]

        try:
            async with engine.connect() as conn:
                assert await conn.run_sync(rebuild_in_held_transaction) == [(real_head(),)]
        finally:
            await engine.dispose()
