"""The migration guard at start: a pending revision that would block writes on a table above
MIGRATION_GUARD_ROWS stops a starting bot (exit 4, one line, nothing applied) and `alembic
upgrade`; `warn` logs it and applies; `off` makes no plan. On SQLite a batch rebuild of a table
above the threshold counts too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.pool import NullPool

from bot.dao.database import create_engine
from bot.migration import MigrationOptions, MigrationReport, migrate
from bot.migration import guard as guard_module
from bot.migration.guard import GuardRefusedError
from tests.fakes.bot_api import FakeBotAPI
from tests.migrations_testonly.living_shop import PRODUCTS, open_shop, shop_rows
from tests.migrations_testonly.scenarios import real_head, scenario, version
from tests.support.databases import ThrowawayDatabase, execute, fetch_all, sqlite_database
from tests.support.processes import (
    bot_env,
    clean_env,
    run_alembic,
    run_main,
    write_alembic_ini,
)

INDEX = "ix_purchases_testonly_amount"  # what plain_index builds
PURCHASES = 5000
THRESHOLD = 1000


def _big_shop(database: ThrowawayDatabase) -> None:
    open_shop(database, shop_rows(purchases=PURCHASES))
    execute(database.url, "ANALYZE purchases")


def _migrate(database: ThrowawayDatabase, options: MigrationOptions) -> MigrationReport:
    async def run() -> MigrationReport:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            return await migrate(engine, options)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _has_index(database: ThrowawayDatabase) -> bool:
    return bool(fetch_all(database, f"SELECT 1 FROM pg_indexes WHERE indexname = '{INDEX}'"))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_starting_bot_refuses_an_index_build_on_a_big_table(
    database: ThrowawayDatabase, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    _big_shop(database)
    env = bot_env(
        database,
        api_url=fake_api.url,
        EXTRA_MIGRATION_DIRS=str(scenario("plain_index", into=tmp_path)),
        MIGRATION_GUARD_ROWS=str(THRESHOLD),
    )

    result = run_main([], env, tmp_path)

    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    for named in (
        "revision plain_index1 ",
        f"CREATE INDEX {INDEX} ON purchases (amount)",
        "would block writes on purchases (~5,000 rows",
        "MIGRATION_GUARD_ROWS=1000",
        "`python main.py --plan`",
        "MIGRATION_GUARD=warn",
        "nothing was applied",
    ):
        assert named in line
    assert version(database) == [real_head()]
    assert not _has_index(database)
    assert fake_api.calls_of("getUpdates") == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_alembic_upgrade_is_refused_the_same_way(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    _big_shop(database)
    ini = write_alembic_ini(tmp_path / "alembic.ini", scenario("plain_index", into=tmp_path))
    env = clean_env(DATABASE_URL=database.url_string, MIGRATION_GUARD_ROWS=str(THRESHOLD))

    refused = run_alembic(["upgrade", "head"], env, ini=ini)
    warned = run_alembic(["upgrade", "head"], {**env, "MIGRATION_GUARD": "warn"}, ini=ini)

    assert refused.returncode != 0
    assert "Traceback" not in refused.stdout + refused.stderr
    [line] = [line for line in refused.stdout.splitlines() if line.startswith("FAILED")]
    assert "revision plain_index1 would block writes on purchases (~5,000 rows" in line
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "applying it anyway because MIGRATION_GUARD=warn" in warned.stderr
    assert version(database) == ["plain_index1"]
    assert _has_index(database)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_warn_logs_the_same_line_and_applies(
    database: ThrowawayDatabase, tmp_path: Path, log: list[str]
) -> None:
    _big_shop(database)
    versions = scenario("plain_index", into=tmp_path)
    options = MigrationOptions(
        extra_version_locations=(versions,), guard="warn", guard_rows=THRESHOLD
    )

    report = _migrate(database, options)

    assert [applied.revision for applied in report.applied] == ["plain_index1"]
    [warning] = [line for line in log if "MIGRATION_GUARD=warn" in line]
    assert "revision plain_index1 would block writes on purchases (~5,000 rows" in warning
    assert f"CREATE INDEX {INDEX} ON purchases (amount)" in warning
    assert _has_index(database)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_off_makes_no_plan_and_applies(
    database: ThrowawayDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _big_shop(database)
    versions = scenario("plain_index", into=tmp_path)

    async def no_plan(*_: object, **__: object) -> None:
        raise AssertionError("MIGRATION_GUARD=off made a plan")

    monkeypatch.setattr(guard_module, "make_plan", no_plan)
    options = MigrationOptions(extra_version_locations=(versions,), guard="off", guard_rows=0)

    report = _migrate(database, options)

    assert [applied.revision for applied in report.applied] == ["plain_index1"]
    assert _has_index(database)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_refuses_a_rebuild_of_a_table_above_the_threshold(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    """The rebuild scenario copies products (a batch alter_column): with more products than
    the threshold it is refused, with fewer it applies."""
    open_shop(database, shop_rows(purchases=30))
    versions = scenario("rebuild", into=tmp_path)

    with pytest.raises(GuardRefusedError) as refused:
        _migrate(
            database, MigrationOptions(extra_version_locations=(versions,), guard_rows=PRODUCTS - 1)
        )
    line = str(refused.value)
    assert f"revision rebuild1 would block writes on products (~{PRODUCTS} rows" in line
    assert "copies the table (SQLite's batch rebuild)" in line
    assert version(database) == [real_head()]

    report = _migrate(
        database, MigrationOptions(extra_version_locations=(versions,), guard_rows=PRODUCTS)
    )
    assert [applied.revision for applied in report.applied] == ["rebuild1"]


def test_a_revision_that_cannot_be_planned_is_named_and_applied(
    tmp_path: Path, log: list[str]
) -> None:
    versions = scenario("offline_blind", into=tmp_path)
    with sqlite_database(tmp_path) as fresh:  # no revision yet: every table new, no plan
        _migrate(fresh, MigrationOptions(extra_version_locations=(versions,), guard_rows=0))
    assert not [line for line in log if "cannot be planned" in line]
    with sqlite_database(tmp_path) as database:
        _migrate(database, MigrationOptions())
        report = _migrate(
            database, MigrationOptions(extra_version_locations=(versions,), guard_rows=0)
        )

    assert [applied.revision for applied in report.applied][-2:] == ["peek1", "after2"]
    [warning] = [line for line in log if "cannot be planned" in line]
    assert "revision peek1 cannot be planned (offline SQL cannot run it: AttributeError" in (
        warning
    )
