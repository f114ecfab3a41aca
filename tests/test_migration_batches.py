"""`bot.migration.batches.update_in_batches` in a revision, by the embedded migrator on a
populated database: values right, progress logged, and the commit rule as documented (atomic
by default; with commit_each_batch a failure keeps the batches done and the rerun resumes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.migration import MigrationOptions, batches, migrate
from bot.migration.errors import RevisionFailedError
from tests.migrations_testonly.scenarios import scenario

PURCHASES = 50


async def _seeded(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO categories (id, name) VALUES (1, 'Keys')"))
        await conn.execute(text("INSERT INTO users (id, telegram_id) VALUES (1, 100)"))
        await conn.execute(
            text(
                "INSERT INTO products (id, category_id, name, description, price, currency, "
                "hidden_content) VALUES (1, 1, 'Key', 'd', 5, 'XTR', 'K')"
            )
        )
        for number in range(1, PURCHASES + 1):
            await conn.execute(
                text(
                    "INSERT INTO purchases (user_id, product_id, amount, currency, provider, "
                    "charge_id) VALUES (1, 1, :amount, 'XTR', 'stars', :charge)"
                ),
                {"amount": number, "charge": f"c{number}"},
            )


async def _doubled(engine: AsyncEngine) -> list[tuple[int, int | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT amount, doubled FROM purchases ORDER BY id"))
        return [(row[0], row[1]) for row in rows]


async def _version(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar())


@pytest.fixture
def options(tmp_path: Path) -> MigrationOptions:
    return MigrationOptions(extra_version_locations=(scenario("backfill", into=tmp_path),))


async def test_backfill_updates_every_row_and_logs_progress(
    engine: AsyncEngine,
    options: MigrationOptions,
    log: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batches, "PROGRESS_EVERY", 0.0)  # a line per batch
    await _seeded(engine)

    await migrate(engine, options)

    assert await _doubled(engine) == [(n, 2 * n) for n in range(1, PURCHASES + 1)]
    progress = [line for line in log if "updating purchases: " in line]
    assert len(progress) == -(-PURCHASES // 7)  # one per batch of 7
    assert "updating purchases: 7 of 50 rows" in progress[0]
    assert any("updated 50 rows of purchases" in line for line in log)


async def test_a_failing_backfill_is_all_or_nothing_by_default(
    engine: AsyncEngine, options: MigrationOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seeded(engine)
    monkeypatch.setenv("TESTONLY_BACKFILL_FAIL", "1")

    with pytest.raises(RevisionFailedError, match="backfill2"):
        await migrate(engine, options)

    assert await _version(engine) == "backfill1"
    assert {doubled for _, doubled in await _doubled(engine)} == {None}


async def test_committed_batches_stay_and_the_next_start_resumes(
    engine: AsyncEngine, options: MigrationOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seeded(engine)
    monkeypatch.setenv("TESTONLY_BACKFILL_COMMIT", "1")
    monkeypatch.setenv("TESTONLY_BACKFILL_FAIL", "1")

    with pytest.raises(RevisionFailedError, match="backfill2"):
        await migrate(engine, options)

    assert await _version(engine) == "backfill1"  # the revision is not recorded...
    assert await _doubled(engine) == [
        (n, 2 * n) for n in range(1, PURCHASES + 1)
    ]  # ...its rows are

    monkeypatch.delenv("TESTONLY_BACKFILL_FAIL")
    report = await migrate(engine, options)
    assert [applied.revision for applied in report.applied] == ["backfill2"]
    assert await _version(engine) == "backfill2"
