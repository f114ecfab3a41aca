"""The embedded migration runner: brings the schema to head on the already-running event loop.

`migrate()` for the instance that may change the schema, `verify()` for `--no-migrate`
instances, `status()` for both. The alembic CLI goes through `migrations/env.py`, which uses
`bot.migration.cli` so a person and a starting bot take the same lock.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from loguru import logger
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import DatabaseSettings
from bot.errors import SchemaError
from bot.migration.backups import back_up
from bot.migration.connect import connect, describe, refuse_read_only
from bot.migration.errors import ReadOnlyServingError, SchemaBehindError, UnknownRevisionError
from bot.migration.failures import (
    failing_revision,
    is_lock_timeout,
    one_line_errors,
    revision_failed,
)
from bot.migration.guard import guard
from bot.migration.locks import (
    HeldLock,
    holder_name,
    labeled_session,
    lock_holder,
    migration_lock,
)
from bot.migration.progress import AppliedRevision, MigrationReport, Progress, beating, finish
from bot.migration.revisions import VERSION_TABLE, Revisions, alembic_config
from bot.migration.waiting import Backoff, wait_until

# The application_name prefix a lock waiter reports for the holder.
MIGRATOR_NAME = "shopbot-migrator"


@dataclass(frozen=True)
class MigrationOptions:
    lock_timeout: float = 60.0
    connect_timeout: float = 30.0
    ddl_lock_timeout: float = 5.0
    ddl_lock_retries: int = 3
    schema_wait_timeout: float = 120.0
    allow_unknown_revision: bool = False
    heartbeat: float = 10.0
    extra_version_locations: tuple[Path, ...] = ()
    backups: int = 3  # SQLite: copies of the database kept, one made before revisions run
    guard: Literal["refuse", "warn", "off"] = "refuse"
    guard_rows: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> MigrationOptions:
        return cls(
            lock_timeout=settings.migration_lock_timeout,
            connect_timeout=settings.db_connect_timeout,
            ddl_lock_timeout=settings.ddl_lock_timeout,
            ddl_lock_retries=settings.ddl_lock_retries,
            schema_wait_timeout=settings.schema_wait_timeout,
            allow_unknown_revision=settings.allow_unknown_revision,
            heartbeat=settings.migration_heartbeat,
            extra_version_locations=tuple(settings.extra_migration_dirs),
            backups=settings.migration_backups,
            guard=settings.migration_guard,
            guard_rows=settings.migration_guard_rows,
        )


@dataclass(frozen=True)
class SchemaStatus:
    current: tuple[str, ...]
    head: str
    pending: tuple[str, ...]  # what an upgrade to head would run, in order (merges too)
    unknown: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return self.current == (self.head,)

    def describe(self) -> str:
        current = ", ".join(self.current) or "empty (no revision)"
        if self.unknown:
            return f"database at {current}, unknown to this code (its head is {self.head})"
        return f"database at {current}, code head {self.head}"


async def read_current(conn: AsyncConnection) -> tuple[str, ...]:
    """The database's revision(s). A plain SELECT answers every start but the first; alembic's
    own reading, which first reflects the catalog to see whether the table exists (~5 ms with
    a fresh engine on PostgreSQL), is left for when the SELECT fails."""
    try:
        rows = await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        current = tuple(sorted(row[0] for row in rows))
    except DBAPIError:  # no version table yet, or something alembic should judge
        await conn.rollback()
    else:
        await conn.rollback()  # leave no transaction open: alembic must begin its own
        return current

    def read(sync_conn: Connection) -> tuple[str, ...]:
        opts = {"version_table": VERSION_TABLE, "transactional_ddl": True}
        context = MigrationContext.configure(sync_conn, opts=opts)
        return tuple(sorted(context.get_current_heads()))

    current = await conn.run_sync(read)
    await conn.rollback()  # leave no transaction open: alembic must begin its own
    return current


async def _status(conn: AsyncConnection, revisions: Revisions) -> SchemaStatus:
    current = await read_current(conn)
    head = revisions.head()
    unknown = revisions.unknown(current)
    pending = () if unknown or current == (head,) else revisions.pending(current)
    return SchemaStatus(current=current, head=head, pending=pending, unknown=unknown)


def _upgrade_to_head(sync_conn: Connection, revisions: Revisions, progress: Progress) -> None:
    """alembic's `command.upgrade(config, "head")`, on the revision scripts `revisions` has
    already loaded (the command would load them all again, about 1 ms a script), with
    `progress` naming each revision to the waiters as its statements come."""
    revisions.config.attributes["connection"] = sync_conn
    script = revisions.script

    def upgrade(current: str, _context: MigrationContext) -> list[RevisionStep]:
        return script._upgrade_revs("head", current)

    with (
        progress.watching(sync_conn),
        EnvironmentContext(
            revisions.config, script, fn=upgrade, as_sql=False, destination_rev="head"
        ),
    ):
        script.run_env()


async def _apply(
    conn: AsyncConnection,
    revisions: Revisions,
    pending: tuple[str, ...],
    held: HeldLock,
    options: MigrationOptions,
) -> list[AppliedRevision]:
    """Upgrade to head, retrying a revision that hit the DDL lock_timeout."""
    progress = Progress(pending, revisions.descriptions(pending), held.announce)
    revisions.config.attributes["tracker"] = progress
    attempt = 0
    async with beating(progress, options.heartbeat):
        while True:
            try:
                progress.start_next()
                await conn.run_sync(_upgrade_to_head, revisions, progress)
                return progress.applied
            except Exception as error:  # a revision's script may raise anything
                await conn.rollback()
                if isinstance(error, SchemaError):
                    raise
                if is_lock_timeout(error) and attempt < options.ddl_lock_retries:
                    attempt += 1
                    delay = min(0.5 * 2**attempt, 10.0)
                    logger.warning(
                        "revision {} waited longer than DDL_LOCK_TIMEOUT={}s for a table lock; "
                        "retry {}/{} in {:.1f}s",
                        failing_revision(error) or "?",
                        options.ddl_lock_timeout,
                        attempt,
                        options.ddl_lock_retries,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                raise revision_failed(error) from None


def _tolerates_unknown(status: SchemaStatus, options: MigrationOptions) -> bool:
    """True when the database is at a revision the code does not know and
    ALLOW_UNKNOWN_REVISION lets us serve anyway; raises when it does not."""
    if not status.unknown:
        return False
    if not options.allow_unknown_revision:
        raise UnknownRevisionError(status.unknown)
    logger.warning(
        "database at unknown revision {} (a newer release, or another branch sharing this "
        "database); serving anyway because ALLOW_UNKNOWN_REVISION=true",
        ", ".join(status.unknown),
    )
    return True


async def _revisions(options: MigrationOptions) -> Revisions:
    """The code's revision graph; refuses multiple heads and broken revision files before
    the database is touched."""
    async with one_line_errors():
        revisions = Revisions(alembic_config(options.extra_version_locations))
        revisions.head()
    return revisions


async def status(engine: AsyncEngine, options: MigrationOptions | None = None) -> SchemaStatus:
    """Current revision(s), head and pending revisions; reads only."""
    options = options or MigrationOptions()
    revisions = await _revisions(options)
    async with connect(engine, deadline=options.connect_timeout) as conn, one_line_errors():
        return await _status(conn, revisions)


async def migrate(engine: AsyncEngine, options: MigrationOptions | None = None) -> MigrationReport:
    """Bring the schema to head under the migration lock; safe to call from many instances."""
    options = options or MigrationOptions()
    started = time.monotonic()
    revisions = await _revisions(options)
    async with connect(engine, deadline=options.connect_timeout) as conn, one_line_errors():
        await refuse_read_only(conn)  # even at head: a bot on a replica could not write
        before = await _status(conn, revisions)
        if before.at_head or _tolerates_unknown(before, options):
            return finish(
                MigrationReport(before.current, before.current, unknown=before.unknown), started
            )
        name = holder_name(MIGRATOR_NAME)
        async with (
            labeled_session(conn, name, ddl_lock_timeout=options.ddl_lock_timeout),
            migration_lock(
                conn, version_table=VERSION_TABLE, timeout=options.lock_timeout, name=name
            ) as held,
        ):
            under_lock = await _status(conn, revisions)  # another instance may have migrated
            if under_lock.at_head or _tolerates_unknown(under_lock, options):
                report = MigrationReport(
                    before.current,
                    under_lock.current,
                    lock_wait=held.waited,
                    unknown=under_lock.unknown,
                )
                return finish(report, started)
            logger.info(
                "migrating: {}; {} revision(s) to apply: {}",
                under_lock.describe(),
                len(under_lock.pending),
                ", ".join(under_lock.pending),
            )
            await guard(conn, revisions, under_lock.current, options.guard, options.guard_rows)
            await back_up(conn, under_lock.current, under_lock.head, keep=options.backups)
            applied = await _apply(conn, revisions, under_lock.pending, held, options)
            after = await read_current(conn)
    report = MigrationReport(before.current, after, tuple(applied), held.waited)
    return finish(report, started)


async def verify(
    engine: AsyncEngine,
    options: MigrationOptions | None = None,
    *,
    poll_interval: float = 1.0,
    for_writes: bool = True,
) -> SchemaStatus:
    """For `--no-migrate`: never locks, never writes. Waits up to `schema_wait_timeout` for a
    schema that is behind (the primary still migrating, a replica still replaying). A database
    `for_writes` must not be read-only; a replica for reads is verified with `for_writes=False`.
    """
    options = options or MigrationOptions()
    revisions = await _revisions(options)
    async with connect(engine, deadline=options.connect_timeout) as conn, one_line_errors():
        if for_writes:  # at once: waiting would not help
            await refuse_read_only(conn, ReadOnlyServingError)
        last: SchemaStatus | None = None  # the latest read, for the messages

        async def attempt() -> SchemaStatus | None:
            nonlocal last
            last = await _status(conn, revisions)
            return last if last.at_head or _tolerates_unknown(last, options) else None

        def behind() -> str:
            assert last is not None
            return f"{last.describe()}, {len(last.pending)} revision(s) pending"

        async def report(waited: float) -> None:
            holder = await lock_holder(conn, VERSION_TABLE)
            at_work = f"; a migrator is at work: {holder}" if holder else ""
            logger.info(
                "waiting for the schema to reach head ({}{}), {:.0f}s so far",
                behind(),
                at_work,
                waited,
            )

        async def expired(waited: float) -> SchemaError:
            holder = await lock_holder(conn, VERSION_TABLE)
            if holder is not None:
                return SchemaBehindError(
                    f"schema is behind the code ({behind()}) after waiting "
                    f"{waited:.0f}s while a migrator is still at work: {holder}; let it "
                    "finish, or raise SCHEMA_WAIT_TIMEOUT to wait for it longer"
                )
            return SchemaBehindError(
                f"schema is behind the code ({behind()}) after waiting {waited:.0f}s "
                "and no migrator is at work; start an instance without --no-migrate (or run "
                "`python main.py --migrate-only`) against the primary, or raise "
                "SCHEMA_WAIT_TIMEOUT"
            )

        verified, _ = await wait_until(
            attempt,
            waiting_for="the schema to reach head",
            timeout=options.schema_wait_timeout,
            backoff=Backoff(first=poll_interval, cap=poll_interval),
            report=report,
            expired=expired,
        )
    logger.info("schema verified on {}: {}", describe(engine), verified.describe())
    return verified
