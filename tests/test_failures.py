"""What the real `python main.py` does when migrating cannot or must not go on: a failing
revision, multiple heads, a revision the code does not know, a read-only database, a DDL lock
that does not come. Each ends with its exit code and one line, and leaves the database at the
last good revision."""

from __future__ import annotations

import asyncio
import signal
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from bot.dao.database import create_engine
from tests.fakes.bot_api import FakeBotAPI
from tests.migrations_testonly.scenarios import (
    COUNTER,
    applied_prefix,
    real_head,
    scenario,
    table_names,
    version,
)
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import BotProcess, bot_env, run_main

T = TypeVar("T")
UNKNOWN = "feedbeef0000"


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if "| ERROR" in line]


def _one_error(output: str) -> str:
    assert "Traceback" not in output
    [line] = _errors(output)
    return line


def _write(database: ThrowawayDatabase, sql: str) -> None:
    async def run() -> None:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _columns(database: ThrowawayDatabase, table: str) -> set[str]:
    sql = "SELECT column_name FROM information_schema.columns WHERE table_name = :table"
    return {row[0] for row in fetch_all(database, sql, table=table)}


def _migrated(database: ThrowawayDatabase, tmp_path: Path) -> None:
    result = run_main(["--migrate-only"], bot_env(database), tmp_path)
    assert result.returncode == 0, result.stderr


class HeldSession:
    """A PostgreSQL session the test keeps open (and in a transaction) across process runs."""

    def __init__(self, database: ThrowawayDatabase) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        dsn = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: asyncpg.Connection = self._run(asyncpg.connect(dsn))

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def execute(self, sql: str) -> None:
        self._run(self._conn.execute(sql))

    def close(self) -> None:
        self._run(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def held(database: ThrowawayDatabase, *statements: str) -> Iterator[HeldSession]:
    session = HeldSession(database)
    try:
        for statement in statements:
            session.execute(statement)
        yield session
    finally:
        session.close()


def test_failing_revision_rolls_back_alone_and_polling_never_starts(
    database: ThrowawayDatabase, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    versions = scenario("counter", "failing", into=tmp_path)
    env = bot_env(database, api_url=fake_api.url, EXTRA_MIGRATION_DIRS=str(versions))
    result = run_main([], env, tmp_path)

    assert result.returncode == 4, result.stderr
    line = _one_error(result.stderr)
    assert (
        "revision doomed4 (testonly-counter-failing/doomed4.py:14) failed and was rolled back, "
        "earlier revisions stay applied" in line
    )
    assert "testonly_missing" in line  # the database's own message
    assert fake_api.calls_of("getUpdates") == []
    # The counter's revisions stay, each applied once; doomed4's table and its counted run are
    # gone (on SQLite too: its DDL is transactional).
    assert version(database) == [COUNTER[-1]]
    assert applied_prefix(database, COUNTER) == COUNTER


def test_multiple_heads_are_refused_before_touching_the_database(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    env = bot_env(database, EXTRA_MIGRATION_DIRS=str(scenario("heads", into=tmp_path)))
    result = run_main(["--migrate-only"], env, tmp_path)

    assert result.returncode == 4, result.stderr
    line = _one_error(result.stderr)
    assert "2 migration heads (left1, right1)" in line
    assert "alembic merge heads" in line
    if database.path is not None:
        assert not database.path.exists()
    else:
        assert table_names(database) == set()


def test_unknown_revision_is_refused_unless_allowed(
    database: ThrowawayDatabase, tmp_path: Path, fake_api: FakeBotAPI
) -> None:
    _migrated(database, tmp_path)
    _write(database, f"UPDATE alembic_version SET version_num = '{UNKNOWN}'")  # a newer release
    env = bot_env(database, api_url=fake_api.url)
    allowed = bot_env(database, api_url=fake_api.url, ALLOW_UNKNOWN_REVISION="true")
    with (
        BotProcess(["--no-migrate"], env, tmp_path) as verifying,
        BotProcess([], allowed, tmp_path) as serving,
    ):
        migrating = run_main(["--migrate-only"], env, tmp_path)
        fake_api.wait_for("getUpdates", timeout=90)
        assert serving.stop(signal.SIGTERM) == 0, serving.output
        assert verifying.wait(90) == 4, verifying.output

    assert migrating.returncode == 4, migrating.stderr
    for output in (migrating.stderr, verifying.output):
        line = _one_error(output)
        assert f"the database is at revision {UNKNOWN}, which this code does not know" in line
        assert "a newer release, or another branch sharing this database" in line
        assert "ALLOW_UNKNOWN_REVISION=true" in line
    assert f"database at unknown revision {UNKNOWN} (a newer release" in serving.output
    assert "serving anyway because ALLOW_UNKNOWN_REVISION=true" in serving.output
    # Never called "at head": the code does not know that revision.
    assert f"database at {UNKNOWN}, a revision this code does not know" in serving.output
    assert "already at head" not in serving.output
    assert "Traceback" not in serving.output
    assert version(database) == [UNKNOWN]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_read_only_database_is_refused_with_the_no_migrate_hint(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    _write(
        database, f'ALTER DATABASE "{database.url.database}" SET default_transaction_read_only = on'
    )
    result = run_main(["--migrate-only"], bot_env(database), tmp_path)

    assert result.returncode == 4, result.stderr
    line = _one_error(result.stderr)
    assert "the database is read-only (default_transaction_read_only is on)" in line
    assert "--no-migrate" in line
    assert table_names(database) == set()


def _ddl_lock_env(database: ThrowawayDatabase, tmp_path: Path, *, retries: int) -> dict[str, str]:
    """A database at the real head, and a release whose next revision alters `users`."""
    _migrated(database, tmp_path)
    return bot_env(
        database,
        EXTRA_MIGRATION_DIRS=str(scenario("ddl_lock", into=tmp_path)),
        DDL_LOCK_TIMEOUT="0.2",
        DDL_LOCK_RETRIES=str(retries),
    )


def _reading_users(database: ThrowawayDatabase) -> AbstractContextManager[HeldSession]:
    """A long transaction that has read `users`: ALTER TABLE must not queue behind it for ever
    (holding up, meanwhile, every query on `users` that queues behind the ALTER)."""
    return held(database, "BEGIN", "LOCK TABLE users IN ACCESS SHARE MODE")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_ddl_lock_timeout_retries_then_fails_leaving_the_last_good_revision(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    env = _ddl_lock_env(database, tmp_path, retries=2)
    with _reading_users(database):
        result = run_main(["--migrate-only"], env, tmp_path)

    assert result.returncode == 4, result.stderr
    assert "retry 1/2" in result.stderr
    assert "retry 2/2" in result.stderr
    line = _one_error(result.stderr)
    assert "revision alter1 (testonly-ddl_lock/alter1.py:14) failed and was rolled back" in line
    assert "canceling statement due to lock timeout" in line
    assert version(database) == [real_head()]
    assert "testonly_note" not in _columns(database, "users")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_ddl_lock_timeout_retry_succeeds_once_the_lock_is_released(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    env = _ddl_lock_env(database, tmp_path, retries=50)
    with (
        _reading_users(database) as reader,
        BotProcess(["--migrate-only"], env, tmp_path) as process,
    ):
        process.wait_for_output("retry 1/50")
        reader.execute("ROLLBACK")
        assert process.wait(90) == 0, process.output
    assert version(database) == ["alter1"]
    assert "testonly_note" in _columns(database, "users")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_database_error_outside_any_revision_is_one_line(
    database: ThrowawayDatabase, tmp_path: Path
) -> None:
    _migrated(database, tmp_path)
    role = f"testonly_{uuid.uuid4().hex[:8]}"  # may connect, may read nothing
    _write(database, f'CREATE ROLE "{role}" LOGIN')
    try:
        as_role = ThrowawayDatabase("postgresql", database.url.set(username=role))
        result = run_main(["--migrate-only"], bot_env(as_role), tmp_path)
    finally:
        _write(database, f'DROP ROLE "{role}"')

    assert result.returncode == 4, result.stderr
    line = _one_error(result.stderr)
    assert "the database failed while checking the schema" in line
    assert "permission denied for table alembic_version" in line
