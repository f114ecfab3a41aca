"""What the embedded migrator says while it works: a heartbeat while a long revision runs,
and pending counts that count what will run, merges included."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import DatabaseSettings, load_settings
from bot.migration import MigrationOptions, migrate
from bot.migration.revisions import Revisions, alembic_config
from tests.migrations_testonly.scenarios import real_head, scenario


async def test_a_long_revision_gets_a_heartbeat(
    engine: AsyncEngine, tmp_path: Path, log: list[str]
) -> None:
    await migrate(engine)
    versions = scenario("slow", into=tmp_path)

    await migrate(engine, MigrationOptions(heartbeat=0.1, extra_version_locations=(versions,)))

    beats = [line for line in log if "still applying revision slow1" in line]
    assert beats, log
    assert "(testonly slow 1: keeps the database busy" in beats[0]
    assert "0 of 1 revision(s) done" in beats[0]
    applied = log.index(next(line for line in log if "applied revision slow1" in line))
    assert all(log.index(beat) < applied for beat in beats)  # it stops with the revision


async def test_migration_heartbeat_from_the_environment_reaches_the_migrator(
    engine: AsyncEngine, tmp_path: Path, log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MIGRATION_HEARTBEAT → Settings → MigrationOptions.from_settings → the heartbeat: at
    the default 10 s the one-second revision would pass without a beat."""
    await migrate(engine)
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("MIGRATION_HEARTBEAT", "0.1")
    monkeypatch.setenv("EXTRA_MIGRATION_DIRS", str(scenario("slow", into=tmp_path)))

    options = MigrationOptions.from_settings(load_settings(DatabaseSettings))
    await migrate(engine, options)

    assert options.heartbeat == 0.1
    assert any("still applying revision slow1" in line for line in log), log


def test_pending_counts_both_branches_of_a_merge(tmp_path: Path) -> None:
    versions = scenario("heads", "merge", into=tmp_path)
    revisions = Revisions(alembic_config((versions,)))

    from_head = revisions.pending((real_head(),))
    assert sorted(from_head[:2]) == ["left1", "right1"]
    assert from_head[2:] == ("join1",)
    assert revisions.pending(("left1",)) == ("right1", "join1")
    assert revisions.pending(("left1", "right1")) == ("join1",)


async def test_a_merge_is_announced_as_what_it_applies(
    engine: AsyncEngine, tmp_path: Path, log: list[str]
) -> None:
    versions = scenario("heads", "merge", into=tmp_path)

    report = await migrate(engine, MigrationOptions(extra_version_locations=(versions,)))

    [announced] = [line for line in log if "migrating: " in line]
    assert f"{len(report.applied)} revision(s) to apply" in announced
    assert [applied.revision for applied in report.applied][-1] == "join1"
