"""Database and alembic errors mapped to the migrator's one-line errors.

Apart from `errors.py` because the mapping needs `connect.py`'s helpers, and `connect.py`
raises those errors: together they would form an import circle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

from sqlalchemy.exc import DBAPIError

from bot.errors import SchemaError
from bot.migration.connect import database_message, is_transient, root_cause
from bot.migration.errors import (
    DatabaseFailedError,
    DatabaseUnreachableError,
    ReadOnlyDatabaseError,
    RevisionFailedError,
)

_LOCK_NOT_AVAILABLE = "55P03"
_READ_ONLY_TRANSACTION = "25006"


@asynccontextmanager
async def one_line_errors() -> AsyncIterator[None]:
    """A database error outside any revision (reading the version table, taking the lock)
    becomes one line too; a lost connection counts as unreachable."""
    try:
        yield
    except (DBAPIError, OSError) as error:
        message = f"the database failed while checking the schema: {database_message(error)}"
        if is_transient(error):
            raise DatabaseUnreachableError(message) from None
        raise DatabaseFailedError(message) from None


def failing_revision(error: BaseException) -> str | None:
    """The revision whose script raised, found in the traceback by its module globals."""
    traceback: TracebackType | None = error.__traceback__
    found = None
    while traceback is not None:
        module_globals = traceback.tb_frame.f_globals
        if "revision" in module_globals and "down_revision" in module_globals:
            found = str(module_globals["revision"])
        traceback = traceback.tb_next
    return found


def is_lock_timeout(error: BaseException) -> bool:
    return getattr(root_cause(error), "sqlstate", None) == _LOCK_NOT_AVAILABLE


def revision_failed(error: BaseException) -> SchemaError:
    """The one-line error for an exception raised while revisions ran."""
    cause = root_cause(error)
    if getattr(cause, "sqlstate", None) == _READ_ONLY_TRANSACTION:
        return ReadOnlyDatabaseError("a read-only transaction refused the change")
    message = database_message(error)
    if not isinstance(error, DBAPIError):  # the script's own bug: its type says what it was
        message = f"{type(cause).__name__}: {message}"
    return RevisionFailedError(failing_revision(error), message)
