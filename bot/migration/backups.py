"""A copy of a SQLite database before revisions change it, and the last few copies kept.

The copy is made with SQLite's online backup API on a plain sqlite3 connection of its own, so
it is one consistent moment of the database even while serving instances read it; under the
migration lock (no other migrator writes meanwhile), once the migrator has found revisions to
apply and before the first one runs. It lies beside the database, named
`<database file>.before-<UTC time>-from-<its revision>-to-<the target>`, so the names sort by
time and say which upgrade each copy was made for. A database without rows gets none, nor do
PostgreSQL (a shop there has its own backups) and in-memory SQLite. The README ("Restoring a
SQLite backup") says how to put a copy back.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing, suppress
from datetime import UTC, datetime
from pathlib import Path

from alembic.script.revision import RevisionError
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.dao.database import SQLITE_BUSY_TIMEOUT_MS, sqlite_path
from bot.migration.connect import database_message
from bot.migration.errors import BackupFailedError
from bot.migration.revisions import VERSION_TABLE, Revisions

# What follows `<database file>.before-` in a copy's name: the time, then the revisions.
_COPY_GLOB = "????????T??????.???Z-from-*-to-*"
# Revision ids go into a file name: anything but letters, digits, _ and + becomes _.
_UNSAFE = re.compile(r"[^\w+]")


async def back_up(
    conn: AsyncConnection, current: Sequence[str], target: str, *, keep: int
) -> Path | None:
    """Copy the SQLite database behind `conn`, at `current`, before it is upgraded to `target`,
    and keep the last `keep` copies. None when nothing was copied: another database, `keep` 0,
    or no rows in it. Raises BackupFailedError, leaving no file of the copy behind, when there
    is no room for it or it cannot be written."""
    database = sqlite_path(conn.engine.url)
    if database is None or keep <= 0:
        return None
    return await asyncio.to_thread(_back_up, database, _copy_path(database, current, target), keep)


async def back_up_before_cli_upgrade(
    conn: AsyncConnection,
    revisions: Revisions,
    current: Sequence[str],
    destination: str,
    *,
    keep: int,
) -> None:
    """`alembic upgrade <destination>` from `current`: the copy `migrate()` makes, when there
    is something to apply."""
    if sqlite_path(conn.engine.url) is None or keep <= 0:
        return
    try:  # alembic's own walk for an upgrade, from the destination down
        steps = list(
            revisions.script.iterate_revisions(destination, tuple(current), implicit_base=True)
        )
    except RevisionError:  # a target alembic refuses: it says why as the command runs
        return
    if steps:
        await back_up(conn, current, steps[0].revision, keep=keep)


def _copy_path(database: Path, current: Sequence[str], target: str) -> Path:
    """Where the copy of `database` at `current`, made now before an upgrade to `target`, goes."""
    now = datetime.now(UTC)
    when = f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z"
    was = _UNSAFE.sub("_", "+".join(current) or "base")
    return database.with_name(
        f"{database.name}.before-{when}-from-{was}-to-{_UNSAFE.sub('_', target)}"
    )


def copies_of(database: Path) -> list[Path]:
    """The copies of `database` beside it, oldest first."""
    return sorted(database.parent.glob(f"{glob.escape(database.name)}.before-{_COPY_GLOB}"))


def _back_up(database: Path, copy: Path, keep: int) -> Path | None:
    started = time.monotonic()
    partial = database.with_name(f"{database.name}.backing-up")
    try:
        with closing(sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)) as source:
            if not _has_rows(source):
                return None
            _check_room(database)
            _copy(source, partial)
        os.replace(partial, copy)
        _sync_directory(copy.parent)
    except (OSError, sqlite3.Error) as error:
        _remove(partial)
        _remove(copy)
        raise BackupFailedError(
            f"could not copy the SQLite database into {copy.parent} before migrating "
            f"({database_message(error)}); nothing was applied: free some disk space or make "
            "the directory writable, or set MIGRATION_BACKUPS=0 to migrate without a copy"
        ) from None
    for old in copies_of(database)[:-keep]:
        try:
            old.unlink()
        except OSError as error:
            logger.warning("could not remove an old copy of the database: {}", error)
    logger.info(
        "copied the database to {} before migrating: {} in {:.2f}s "
        "(MIGRATION_BACKUPS={} copies are kept)",
        copy,
        _size(copy.stat().st_size),
        time.monotonic() - started,
        keep,
    )
    return copy


def _has_rows(source: sqlite3.Connection) -> bool:
    """Whether any table but alembic's own holds a row."""
    tables = [
        name
        for (name,) in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if name != VERSION_TABLE
    ]
    for table in tables:
        quoted = table.replace('"', '""')
        if source.execute(f'SELECT EXISTS (SELECT 1 FROM "{quoted}")').fetchone()[0]:
            return True
    return False


def _check_room(database: Path) -> None:
    """The copy is at most the database file and its write-ahead log together."""
    wal = database.with_name(f"{database.name}-wal")
    needed = sum(path.stat().st_size for path in (database, wal) if path.exists())
    free = shutil.disk_usage(database.parent).free
    if free < needed:
        raise BackupFailedError(
            f"not enough disk space to copy the SQLite database before migrating: "
            f"{database.parent} has {_size(free)} free and the copy needs up to "
            f"{_size(needed)}; nothing was applied: free some space (older copies are "
            f"{database.name}.before-*), or set MIGRATION_BACKUPS=0 to migrate without a copy"
        )


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def _copy(source: sqlite3.Connection, partial: Path) -> None:
    _remove(partial)  # left by a copy killed midway: only a migrator, under the lock, writes it
    with closing(sqlite3.connect(partial)) as copy:
        source.backup(copy)  # all pages in one step: one consistent moment of the database
        copy.execute("PRAGMA journal_mode=DELETE")  # a single file, whoever opens it later


def _sync_directory(directory: Path) -> None:
    """The copy's new name on disk before any revision runs."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """`path` and the files SQLite may have left beside it, as far as we may."""
    for end in ("", "-journal", "-wal", "-shm"):
        with suppress(OSError):
            path.with_name(path.name + end).unlink(missing_ok=True)
