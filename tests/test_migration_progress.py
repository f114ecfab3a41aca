"""What the embedded migrator says while it works: a heartbeat while a long revision runs,
and pending counts that count what will run, merges included."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import DatabaseSettings, load_settings
from bot.migration import MigrationOptions, migrate, progress
from bot.migration.progress import AppliedRevision, Progress
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


def test_a_revision_is_named_before_its_first_statement_that_may_take_long() -> None:
    """Naming is a round trip on PostgreSQL: statements that make a new table or keep
    alembic's version wait for it while the last name is under ANNOUNCE_EVERY seconds old."""
    named: list[str] = []
    tracker = Progress(
        ("a", "b", "c", "d"), {}, lambda _conn, revision, _doc: named.append(revision)
    )

    def run(*statements: str) -> None:
        for statement in statements:
            tracker._before_statement(None, None, statement)  # type: ignore[arg-type]

    tracker.start_next()
    run("CREATE TABLE t1 (id INTEGER)", "UPDATE alembic_version SET version_num='a'")
    tracker.applied.append(AppliedRevision("a", "", 0.0))
    tracker.start_next()
    run("CREATE TABLE t2 (id INTEGER)", "CREATE INDEX ix ON purchases (amount)")
    tracker.applied.append(AppliedRevision("b", "", 0.0))
    tracker.start_next()
    run("CREATE TABLE t3 (id INTEGER)", "INSERT INTO alembic_version (version_num) VALUES ('c')")
    tracker.applied.append(AppliedRevision("c", "", 0.0))
    tracker.announced_at -= progress.ANNOUNCE_EVERY  # as if a second had passed
    tracker.start_next()
    run("CREATE TABLE t4 (id INTEGER)")

    assert named == ["a", "b", "d"]  # the first; before a long one; once a second at least
