"""Data migrations that touch many rows: updates in batches of primary keys, with progress.

In a revision (lightweight table objects, never the application's models, so the revision
keeps working as the models change):

    from bot.migration.batches import update_in_batches

    purchases = sa.table("purchases", sa.column("id"), sa.column("amount"), sa.column("cents"))

    def upgrade() -> None:
        update_in_batches(
            purchases,
            values={"cents": purchases.c.amount * 100},
            where=purchases.c.cents.is_(None),
        )

The rule for commits (README, "Data migrations"):
- `commit_each_batch=False` (the default): the batches run inside the revision's transaction,
  so the revision stays all or nothing. Rows it updated stay locked until it commits:
  serving instances that write those rows (on SQLite: that write anything) wait for the whole
  revision.
- `commit_each_batch=True`: each batch is committed as it ends, so serving instances wait for
  one batch at most. Then a failure leaves the earlier batches done and the revision not
  recorded, and the next start runs it again; so the revision must do nothing but this update,
  and `where` must exclude the rows already done (as `cents IS NULL` does above).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from alembic import op
from loguru import logger
from sqlalchemy import ColumnElement, Connection, TableClause, func, select, update

# How often, at most, a progress line is logged.
PROGRESS_EVERY = 5.0


def update_in_batches(
    table: TableClause,
    *,
    values: Mapping[str, Any],
    where: ColumnElement[bool] | None = None,
    key: str = "id",
    batch_size: int = 1000,
    commit_each_batch: bool = False,
) -> int:
    """Set `values` on the rows of `table` matching `where`, `batch_size` rows at a time in
    the order of the unique column `key`; returns how many rows were updated."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    context = op.get_context()
    if context.as_sql:  # offline SQL cannot page through rows: one statement
        statement = update(table).values(dict(values))
        op.execute(statement if where is None else statement.where(where))
        return 0
    connection = op.get_bind()
    return _run(connection, table, values, where, key, batch_size, commit=commit_each_batch)


def _run(
    connection: Connection,
    table: TableClause,
    values: Mapping[str, Any],
    where: ColumnElement[bool] | None,
    key: str,
    batch_size: int,
    *,
    commit: bool,
) -> int:
    key_column = table.c[key]
    matching = [where] if where is not None else []
    total = connection.execute(select(func.count()).select_from(table).where(*matching)).scalar()
    started = last_report = time.monotonic()
    done = 0
    last_key: Any = None
    while True:
        after = [key_column > last_key] if last_key is not None else []
        keys = list(
            connection.execute(
                select(key_column).where(*matching, *after).order_by(key_column).limit(batch_size)
            ).scalars()
        )
        if not keys:
            break
        connection.execute(update(table).where(key_column.in_(keys)).values(dict(values)))
        if commit:
            _commit_batch(connection)
        done += len(keys)
        last_key = keys[-1]
        if time.monotonic() - last_report >= PROGRESS_EVERY:
            last_report = time.monotonic()
            logger.info(
                "updating {}: {} of {} rows, {:.0f}s so far",
                table.name,
                done,
                total,
                last_report - started,
            )
    logger.info("updated {} rows of {} in {:.1f}s", done, table.name, time.monotonic() - started)
    return done


def _commit_batch(connection: Connection) -> None:
    """Commit what the revision did so far and go on in a new transaction, as two statements
    to the database: SQLAlchemy's transaction is alembic's, which commits the revision (and
    records it) at its end. alembic's autocommit_block does not serve here: a batch is a
    transaction, not a statement in autocommit, and on SQLite the block would undo the
    engine's own BEGIN (bot.dao.database)."""
    connection.exec_driver_sql("COMMIT")
    connection.exec_driver_sql("BEGIN")
