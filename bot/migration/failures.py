"""Database and alembic errors mapped to the migrator's one-line errors.

Apart from `errors.py` because the mapping needs `connect.py`'s helpers, and `connect.py`
raises those errors: together they would form an import circle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from alembic.runtime.migration import RevisionStep
from loguru import logger
from sqlalchemy.exc import DBAPIError

from bot.errors import StartupError
from bot.migration.connect import database_message, is_transient, root_cause
from bot.migration.errors import (
    DatabaseFailedError,
    DatabaseUnreachableError,
    ReadOnlyDatabaseError,
    RevisionFailedError,
    RevisionScriptError,
)

_LOCK_NOT_AVAILABLE = "55P03"
_READ_ONLY_TRANSACTION = "25006"
# alembic's Script._from_path imports a revision file; frames below it run that file.
_ALEMBIC_LOADS_A_SCRIPT = "_from_path"


@asynccontextmanager
async def one_line_errors() -> AsyncIterator[None]:
    """A database error outside any revision (reading the version table, taking the lock)
    becomes one line too; a lost connection counts as unreachable. So does a revision file
    that cannot be loaded, wherever alembic first reads it."""
    try:
        yield
    except (DBAPIError, OSError) as error:
        message = f"the database failed while checking the schema: {database_message(error)}"
        if is_transient(error):
            raise DatabaseUnreachableError(message) from None
        raise DatabaseFailedError(message) from None
    except Exception as error:
        broken = script_error(error)
        if broken is None:
            raise
        raise broken from None


@dataclass(frozen=True)
class _RevisionFrame:
    revision: str
    location: str  # file:line, the file relative to the working directory when inside it
    at_module_level: bool


def _shown(filename: str) -> str:
    path = Path(filename)
    with suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return filename


def _innermost_revision_frame(error: BaseException) -> _RevisionFrame | None:
    """The deepest frame of the traceback that runs in a revision script: one whose module
    globals have what every script has, or the module level of a file alembic was loading
    as a script (an import may fail before those globals exist)."""
    traceback: TracebackType | None = error.__traceback__
    found = None
    loading_script = False
    while traceback is not None:
        frame = traceback.tb_frame
        code = frame.f_code
        module_level = code.co_name == "<module>"
        if ("revision" in frame.f_globals and "down_revision" in frame.f_globals) or (
            module_level and loading_script
        ):
            found = _RevisionFrame(
                revision=str(frame.f_globals.get("revision", "?")),
                location=f"{_shown(code.co_filename)}:{traceback.tb_lineno}",
                at_module_level=module_level,
            )
        loading_script = loading_script or code.co_name == _ALEMBIC_LOADS_A_SCRIPT
        traceback = traceback.tb_next
    return found


def failing_revision(error: BaseException) -> str | None:
    """The revision whose script raised."""
    frame = _innermost_revision_frame(error)
    return frame.revision if frame is not None else None


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split()) or 'no message'}"


def script_error(error: BaseException) -> RevisionScriptError | None:
    """A revision file that cannot be imported (a SyntaxError, an ImportError or anything
    else raised at its module level), or None for any other error."""
    if isinstance(error, SyntaxError) and error.filename:
        location = f"{_shown(error.filename)}:{error.lineno}"
        _log_traceback(error)
        return RevisionScriptError(location, f"{type(error).__name__}: {error.msg}")
    frame = _innermost_revision_frame(error)
    if frame is None or not frame.at_module_level:
        return None
    _log_traceback(error)
    return RevisionScriptError(frame.location, _described(error))


def is_lock_timeout(error: BaseException) -> bool:
    return getattr(root_cause(error), "sqlstate", None) == _LOCK_NOT_AVAILABLE


def _running_revision(error: BaseException) -> str | None:
    """The revision alembic was applying when `error` went through its loop (the failure may
    come after the script returned, e.g. at the revision's commit)."""
    traceback: TracebackType | None = error.__traceback__
    found = None
    while traceback is not None:
        step = traceback.tb_frame.f_locals.get("step")
        if isinstance(step, RevisionStep):
            found = step.revision.revision
        traceback = traceback.tb_next
    return found


def _connection_lost(error: BaseException) -> bool:
    """The connection died under the revision (a database restart, a killed backend)."""
    return isinstance(error, DBAPIError) and (error.connection_invalidated or is_transient(error))


def revision_failed(error: BaseException) -> StartupError:
    """The one-line error for an exception raised while revisions ran."""
    broken = script_error(error)
    if broken is not None:
        return broken
    _log_traceback(error)
    if _connection_lost(error):
        revision = failing_revision(error) or _running_revision(error) or "?"
        return DatabaseUnreachableError(
            f"the connection to the database was lost while applying revision {revision} "
            f"({database_message(error)}); it was rolled back, earlier revisions stay applied; "
            "start again once the database answers"
        )
    cause = root_cause(error)
    if getattr(cause, "sqlstate", None) == _READ_ONLY_TRANSACTION:
        return ReadOnlyDatabaseError("a read-only transaction refused the change")
    # The database's own words, or for the script's own bug its type and message.
    message = database_message(error) if isinstance(error, DBAPIError) else _described(cause)
    frame = _innermost_revision_frame(error)
    if frame is None:
        return RevisionFailedError(None, message)
    return RevisionFailedError(frame.revision, message, frame.location)


def _log_traceback(error: BaseException) -> None:
    logger.opt(exception=error).debug("the failure in full, for the revision's author:")
