"""The embedded migrator runs on the caller's already-running loop, never a loop of its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.dao import User, create_session_factory
from bot.migration.errors import SchemaBehindError
from bot.migration.revisions import Revisions, alembic_config

REVISIONS = Revisions(alembic_config())
HEAD = REVISIONS.head()
ALL = REVISIONS.pending(())  # every revision, oldest first
TABLES = {"users", "categories", "products", "purchases", "alembic_version"}


@pytest.fixture
def forbid_new_loops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any attempt to start a second event loop fails the test (and is recorded)."""
    attempts: list[str] = []

    def refuse(*_: Any, **__: Any) -> None:
        attempts.append("asyncio.run")
        raise AssertionError("nested asyncio.run attempted")

    monkeypatch.setattr(asyncio, "run", refuse)
    return attempts


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_migrate_runs_inside_the_running_loop(
    engine: AsyncEngine, forbid_new_loops: list[str]
) -> None:
    running = asyncio.get_running_loop()
    report = await migration.migrate(engine)
    assert asyncio.get_running_loop() is running
    assert forbid_new_loops == []
    assert report.from_revisions == ()
    assert report.to_revisions == (HEAD,)
    assert tuple(applied.revision for applied in report.applied) == ALL
    assert all(applied.seconds >= 0 for applied in report.applied)
    assert await _tables(engine) >= TABLES


async def test_second_migrate_is_a_no_op(engine: AsyncEngine) -> None:
    await migration.migrate(engine)
    report = await migration.migrate(engine)
    assert report.applied == ()
    assert report.from_revisions == report.to_revisions == (HEAD,)
    assert "nothing to apply" in report.summary()


async def test_status_reports_current_head_and_pending(engine: AsyncEngine) -> None:
    before = await migration.status(engine)
    assert before.current == ()
    assert before.head == HEAD
    assert before.pending == ALL
    assert not before.at_head
    await migration.migrate(engine)
    after = await migration.status(engine)
    assert after.at_head
    assert after.pending == ()


async def test_verify_never_writes_and_refuses_a_schema_behind(engine: AsyncEngine) -> None:
    options = migration.MigrationOptions(schema_wait_timeout=0)
    with pytest.raises(SchemaBehindError, match="schema is behind the code"):
        await migration.verify(engine, options, poll_interval=0.01)
    assert "alembic_version" not in await _tables(engine)
    await migration.migrate(engine)
    assert (await migration.verify(engine, options)).at_head


async def test_migrated_schema_accepts_aware_timestamps(engine: AsyncEngine) -> None:
    await migration.migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO users (telegram_id) VALUES (42)"))
    async with create_session_factory(engine)() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert user.created_at.tzinfo is not None
    assert abs(datetime.now(UTC) - user.created_at) < timedelta(hours=1)
