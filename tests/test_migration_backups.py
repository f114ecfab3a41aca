"""A copy of a SQLite database with rows before revisions change it: made under the migration
lock, holding the database as it was before the upgrade, the last MIGRATION_BACKUPS kept, none
when there is nothing to keep or nothing to apply; no room for it stops the start with exit 4
and one line, nothing applied; the README's restore steps give the old database back; and
`alembic upgrade` makes the same copy."""

from __future__ import annotations

import asyncio
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from bot.dao.database import create_engine
from bot.errors import SchemaError
from bot.migration import MigrationOptions, migrate
from bot.migration.backups import copies_of
from bot.migration.errors import BackupFailedError
from tests.migrations_testonly.living_shop import open_shop, shop_rows
from tests.migrations_testonly.scenarios import COUNTER, real_head, scenario
from tests.support.databases import ThrowawayDatabase, sqlite_database
from tests.support.processes import (
    MAIN,
    PROJECT_ROOT,
    clean_env,
    run_alembic,
    write_alembic_ini,
)

PURCHASES = "SELECT id, user_id, product_id, amount, charge_id FROM purchases ORDER BY id"
STAMP = r"\d{8}T\d{6}\.\d{3}Z"
# The copy's name in the README's restore steps, replaced there by a real one.
EXAMPLE_COPY = "shopbot.sqlite3.before-20261127T101502.123Z-from-dbfb336710c9-to-e3a9c5d17b20"


def _read(path: Path, sql: str) -> list[tuple[object, ...]]:
    """A query on a SQLite file opened read-only: reading a copy must not change it."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def _columns(path: Path, table: str) -> set[str]:
    return {str(row[1]) for row in _read(path, f"PRAGMA table_info({table})")}


def _version(path: Path) -> list[str]:
    return [str(row[0]) for row in _read(path, "SELECT version_num FROM alembic_version")]


@contextmanager
def _shop(tmp_path: Path, purchases: int = 300) -> Iterator[ThrowawayDatabase]:
    """A SQLite shop at the real head with `purchases` purchases in it."""
    with sqlite_database(tmp_path) as database:
        open_shop(database, shop_rows(purchases=purchases))
        yield database


def _migrate(database: ThrowawayDatabase, versions: Path | None, backups: int = 3) -> None:
    """`migrate()` in this process, with `versions` as an extra version location."""
    extra = (versions,) if versions is not None else ()
    options = MigrationOptions(extra_version_locations=extra, backups=backups)

    async def run() -> None:
        engine = create_engine(database.url)
        try:
            await migrate(engine, options)
        finally:
            await engine.dispose()

    asyncio.run(run())


def _path(database: ThrowawayDatabase) -> Path:
    assert database.path is not None
    return database.path


def _leftovers(database: ThrowawayDatabase) -> list[str]:
    """Files beside the database that are neither it, its lock nor its write-ahead log."""
    path = _path(database)
    own = {path.name, f"{path.name}.migrate.lock", f"{path.name}-wal", f"{path.name}-shm"}
    return sorted(p.name for p in path.parent.glob(f"{path.name}*") if p.name not in own)


def test_the_copy_holds_the_database_as_it_was_before_the_upgrade(
    tmp_path: Path, log: list[str]
) -> None:
    with _shop(tmp_path) as database:
        database_file = _path(database)
        before = _read(database_file, PURCHASES)

        _migrate(database, scenario("backfill", into=tmp_path))

        [copy] = copies_of(database_file)
        assert re.fullmatch(
            rf"{re.escape(database_file.name)}\.before-{STAMP}-from-{real_head()}-to-backfill2",
            copy.name,
        )
        assert _version(copy) == [real_head()]
        assert _read(copy, PURCHASES) == before
        assert "doubled" not in _columns(copy, "purchases")  # the revisions ran after the copy
        assert _version(database_file) == ["backfill2"]
        assert _read(database_file, "SELECT count(*) FROM purchases WHERE doubled IS NULL") == [
            (0,)
        ]
        assert _read(copy, "PRAGMA journal_mode") == [("delete",)]  # one file, no -wal needed
        [said] = [line for line in log if "copied the database" in line]
        assert str(copy) in said
        assert re.search(r"\d+ kB in \d+\.\d\ds", said)
        assert _leftovers(database) == [copy.name]


def test_no_copy_of_a_new_or_empty_database_nor_when_at_head(tmp_path: Path) -> None:
    counter = scenario("counter", into=tmp_path)
    with sqlite_database(tmp_path) as new:
        _migrate(new, counter)  # brand new: every revision, no rows before them
        assert _version(_path(new)) == [COUNTER[-1]]
        assert copies_of(_path(new)) == []
    with sqlite_database(tmp_path) as empty:
        open_shop(empty)  # at the real head, every table empty
        _migrate(empty, counter)
        assert _version(_path(empty)) == [COUNTER[-1]]
        assert copies_of(_path(empty)) == []
    with _shop(tmp_path) as at_head:
        _migrate(at_head, None)  # nothing to apply
        assert copies_of(_path(at_head)) == []


def test_only_the_last_copies_are_kept(tmp_path: Path) -> None:
    """Three upgrades, one revision of the counter each, with MIGRATION_BACKUPS=2: the copies
    made before the second and the third are kept; a file of someone else's stays."""
    versions = tmp_path / "growing"
    versions.mkdir()
    counter = scenario("counter", into=tmp_path)
    with _shop(tmp_path) as database:
        database_file = _path(database)
        someone_elses = database_file.with_name(f"{database_file.name}.before-the-big-sale")
        someone_elses.write_bytes(b"mine")
        made = []
        for revision in COUNTER:
            shutil.copy(counter / f"{revision}.py", versions)
            _migrate(database, versions, backups=2)
            made.append(copies_of(database_file)[-1])
        assert _version(database_file) == [COUNTER[-1]]
        assert copies_of(database_file) == made[1:]
        assert [_version(copy) for copy in made[1:]] == [[COUNTER[0]], [COUNTER[1]]]
        assert someone_elses.read_bytes() == b"mine"


def test_zero_turns_the_copies_off(tmp_path: Path) -> None:
    with _shop(tmp_path) as database:
        _migrate(database, scenario("backfill", into=tmp_path), backups=0)
        assert _version(_path(database)) == ["backfill2"]
        assert copies_of(_path(database)) == []


def test_no_room_for_the_copy_applies_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _shop(tmp_path) as database:
        usage = shutil.disk_usage(tmp_path)
        size = _path(database).stat().st_size
        monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage._replace(free=size - 1))

        with pytest.raises(BackupFailedError) as raised:
            _migrate(database, scenario("backfill", into=tmp_path))

        assert isinstance(raised.value, SchemaError)  # exit 4
        message = str(raised.value)
        assert "\n" not in message
        assert "not enough disk space" in message
        assert "nothing was applied" in message
        assert "MIGRATION_BACKUPS=0" in message
        assert _version(_path(database)) == [real_head()]
        assert _leftovers(database) == []


def test_a_copy_that_cannot_be_written_stops_the_start_with_exit_4(tmp_path: Path) -> None:
    """A real `python main.py --migrate-only` whose files may not grow past half the database
    (RLIMIT_FSIZE: the kernel refuses the copy's writes as a full disk would): one line,
    exit 4, no revision applied and nothing of the copy left."""
    with _shop(tmp_path) as database:
        limit = _path(database).stat().st_size // 2
        env = clean_env(
            DATABASE_URL=database.url_string,
            EXTRA_MIGRATION_DIRS=str(scenario("backfill", into=tmp_path)),
        )

        def limited() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        completed = subprocess.run(
            [sys.executable, str(MAIN), "--migrate-only"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=limited,
            check=False,
        )

        assert completed.returncode == 4, completed.stderr
        assert "Traceback" not in completed.stderr
        [line] = [line for line in completed.stderr.splitlines() if "| ERROR" in line]
        assert "could not copy the SQLite database" in line
        assert "nothing was applied" in line
        assert _version(_path(database)) == [real_head()]
        assert _leftovers(database) == []


def _readme_restore_steps() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("### Restoring a SQLite backup", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def _die_leaving_a_write_ahead_log(database: Path) -> None:
    """A bot that wrote after the upgrade and was killed: its -wal file stays behind."""
    code = (
        "import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute(\"UPDATE purchases SET doubled = 0, charge_id = charge_id || '-after'\"); "
        "c.commit(); "
        "os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(database)], check=True, timeout=60)


def test_the_readmes_restore_steps_give_back_the_old_database(tmp_path: Path) -> None:
    with _shop(tmp_path) as database:
        database_file = _path(database)
        before = _read(database_file, PURCHASES)
        _migrate(database, scenario("backfill", into=tmp_path))
        [copy] = copies_of(database_file)
        _die_leaving_a_write_ahead_log(database_file)
        wal = database_file.with_name(f"{database_file.name}-wal")
        assert wal.stat().st_size > 0

        steps = (
            _readme_restore_steps()
            .replace("cd data", f"cd '{database_file.parent}'")
            .replace(EXAMPLE_COPY, copy.name)
            .replace("shopbot.sqlite3", database_file.name)
        )
        subprocess.run(["sh", "-eu", "-c", steps], check=True, timeout=60, capture_output=True)

        assert _read(database_file, "PRAGMA integrity_check") == [("ok",)]
        assert _version(database_file) == [real_head()]
        assert _read(database_file, PURCHASES) == before
        assert "doubled" not in _columns(database_file, "purchases")
        assert not wal.exists()


def test_alembic_upgrade_makes_the_same_copy(tmp_path: Path) -> None:
    """`alembic upgrade +1`, then `upgrade head` (a copy each), then `upgrade head` again at
    head (none)."""
    ini = write_alembic_ini(tmp_path / "alembic.ini", scenario("backfill", into=tmp_path))
    with _shop(tmp_path) as database:
        database_file = _path(database)
        env = clean_env(DATABASE_URL=database.url_string)
        for target in ("+1", "head", "head"):
            upgraded = run_alembic(["upgrade", target], env, ini=ini)
            assert upgraded.returncode == 0, upgraded.stderr

        first, second = copies_of(database_file)
        assert first.name.endswith(f"-from-{real_head()}-to-backfill1")
        assert second.name.endswith("-from-backfill1-to-backfill2")
        assert _version(first) == [real_head()]
        assert "doubled" not in _columns(first, "purchases")
        assert _version(second) == ["backfill1"]
        assert _version(database_file) == ["backfill2"]
