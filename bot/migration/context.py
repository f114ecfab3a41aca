"""What `migrations/env.py` gives alembic, for every caller: the options of `context.configure`
and, on SQLite, foreign keys handled around the revisions.

SQLite cannot change `PRAGMA foreign_keys` inside a transaction, and a batch operation
rebuilds a table (copy, drop, rename) that others may reference: with foreign keys on, the
drop fails as soon as one referencing row exists. So foreign keys go off on the migration
connection before the revisions' transactions, `PRAGMA foreign_key_check` runs in each
revision's transaction before its commit, and they go back on afterwards. The application's
own connections keep enforcing them (bot.dao.database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from alembic.config import Config
from alembic.operations.ops import AddColumnOp, DropColumnOp, MigrationScript, ModifyTableOps
from alembic.runtime.migration import MigrationContext, MigrationInfo
from loguru import logger
from sqlalchemy.engine import Connection

from bot.dao.database import UTCDateTime
from bot.migration.errors import ForeignKeyViolationError, MigrationSetupError
from bot.migration.revisions import VERSION_TABLE

# The most violations one error message names.
_NAMED_VIOLATIONS = 5


def context_options(dialect_name: str, config: Config) -> dict[str, Any]:
    """The keyword arguments of `context.configure`, online and offline alike."""
    # alembic types its on_version_apply callbacks as positional, but calls them by keyword.
    callbacks: list[Any] = [check_foreign_keys] if dialect_name == "sqlite" else []
    tracker = config.attributes.get("tracker")
    if tracker is not None:  # after the check: a revision is "applied" once it passed it
        callbacks.append(tracker)
    return {
        "version_table": VERSION_TABLE,
        # One revision file for both backends: on PostgreSQL batch operations are plain ALTERs.
        "render_as_batch": True,
        "compare_type": True,
        "compare_server_default": True,
        "transaction_per_migration": True,
        # SQLite DDL is transactional once the engine emits BEGIN itself (bot.dao.database).
        "transactional_ddl": True,
        "on_version_apply": callbacks,
        "render_item": _render_item,
        "process_revision_directives": _warn_of_possible_renames,
    }


def _render_item(kind: str, item: object, autogen_context: Any) -> str | Literal[False]:
    """Autogenerate writes our UTCDateTime as the plain type it stands for, so revision
    scripts never import application code (they must keep working as the code changes)."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _warn_of_possible_renames(
    _context: MigrationContext, _revision: object, directives: list[MigrationScript]
) -> None:
    """Autogenerate cannot tell a renamed column from a dropped one and a new one, and writes
    the latter, which loses the column's data: say so while the author reads the file."""
    for script in directives:
        for table_ops in script.upgrade_ops.ops if script.upgrade_ops else []:
            if not isinstance(table_ops, ModifyTableOps):
                continue
            added = [o.column.name for o in table_ops.ops if isinstance(o, AddColumnOp)]
            dropped = [o.column_name for o in table_ops.ops if isinstance(o, DropColumnOp)]
            if added and dropped:
                logger.warning(
                    "revision drops {}.{} and adds {}.{}: if that is a rename, write "
                    "batch.alter_column({!r}, new_column_name={!r}) instead, or the data of the "
                    "dropped column is lost",
                    table_ops.table_name,
                    ", ".join(dropped),
                    table_ops.table_name,
                    ", ".join(added),
                    dropped[0],
                    added[0],
                )


@contextmanager
def sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Foreign keys off on a SQLite migration connection while the revisions run, back on
    after. On a connection someone else already holds in a transaction (pytest-alembic's
    checks that roll everything back), where the pragma cannot change, foreign keys are
    deferred to a commit that never comes instead, so a rebuild can drop and recreate a
    referenced table there too. Elsewhere nothing is done."""
    if connection.dialect.name != "sqlite":
        yield
        return
    if connection.in_transaction():
        _pragma(connection, "PRAGMA defer_foreign_keys=ON")  # ends with the transaction
        yield
        return
    was_on = _foreign_keys(connection)
    _set_foreign_keys(connection, on=False)
    try:
        yield
    finally:
        if connection.in_transaction():  # a failure left alembic's transaction to us
            connection.rollback()
        if was_on:
            _set_foreign_keys(connection, on=True)


def _pragma(connection: Connection, statement: str) -> object:
    """Run a pragma on the DBAPI connection: through SQLAlchemy, the engine would emit BEGIN
    first (bot.dao.database), and inside a transaction SQLite ignores this pragma."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return row[0] if row else None


def _foreign_keys(connection: Connection) -> bool:
    return bool(_pragma(connection, "PRAGMA foreign_keys"))


def _set_foreign_keys(connection: Connection, *, on: bool) -> None:
    _pragma(connection, f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    # A pragma SQLite ignores says nothing: make sure it took, or stop before any revision.
    if _foreign_keys(connection) is not on:
        raise MigrationSetupError(
            f"SQLite did not turn foreign keys {'on' if on else 'off'} on the migration "
            "connection (is a transaction open on it?)"
        )


def check_foreign_keys(*, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
    """alembic's on_version_apply, inside the revision's transaction: refuse to commit a
    revision that leaves a row pointing at nothing (foreign keys were off while it ran)."""
    if ctx.as_sql or ctx.connection is None:
        return
    rows = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if not rows:
        return
    named = "; ".join(
        f"{table} rowid {rowid} -> {parent}" for table, rowid, parent, _ in rows[:_NAMED_VIOLATIONS]
    )
    more = f" and {len(rows) - _NAMED_VIOLATIONS} more" if len(rows) > _NAMED_VIOLATIONS else ""
    logger.debug("foreign key violations after revision {}: {!r}", step.up_revision_id, rows)
    raise ForeignKeyViolationError(step.up_revision_id, f"{named}{more}")
