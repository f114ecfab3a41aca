"""Every way bringing up the schema can fail, one class per cause a user must act on.

Each message is one line that says what happened and what to do.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

from bot.errors import EXIT_CONFIG, EXIT_UNREACHABLE, StartupError


class SchemaError(StartupError):
    """Base class: the schema could not be brought to (or found at) the code's head."""


class DatabaseConfigError(SchemaError):
    """The database refused us for a reason retrying cannot fix (password, missing db)."""

    exit_code = EXIT_CONFIG


class DatabaseUnreachableError(SchemaError):
    """The database did not answer before the start-up deadline."""

    exit_code = EXIT_UNREACHABLE


class LockTimeoutError(SchemaError):
    """Another migrator held the migration lock for longer than we were willing to wait."""


class MultipleHeadsError(SchemaError):
    def __init__(self, heads: Sequence[str]) -> None:
        super().__init__(
            f"the code has {len(heads)} migration heads ({', '.join(heads)}); "
            'merge them with `alembic merge heads -m "merge"` before deploying'
        )
        self.heads = tuple(heads)


class UnknownRevisionError(SchemaError):
    def __init__(self, revisions: Sequence[str]) -> None:
        super().__init__(
            f"the database is at revision {', '.join(revisions)}, which this code does not know "
            "(a newer release migrated it); deploy that release, or set "
            "ALLOW_UNKNOWN_REVISION=true to serve anyway during a rolling deploy"
        )
        self.revisions = tuple(revisions)


class ReadOnlyDatabaseError(SchemaError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the database is read-only ({reason}); cannot migrate here: point DATABASE_URL at "
            "the primary, or start this instance with --no-migrate"
        )


class SchemaBehindError(SchemaError):
    """`--no-migrate` found the schema behind the code and it did not catch up in time."""


class RevisionFailedError(SchemaError):
    def __init__(self, revision: str | None, message: str) -> None:
        where = f"revision {revision}" if revision else "a migration"
        super().__init__(
            f"{where} failed and was rolled back, earlier revisions stay applied: {message}"
        )
        self.revision = revision


class DatabaseFailedError(SchemaError):
    """The database answered an error outside any revision (e.g. reading the version table)."""


class WaitInterruptedError(SchemaError):
    """SIGTERM or SIGINT arrived while we were only waiting; the exit code follows the shell's
    128 + signal number convention."""

    def __init__(self, received: signal.Signals, waiting_for: str) -> None:
        super().__init__(
            f"stopped by {received.name} while waiting for {waiting_for}; nothing was changed"
        )
        self.exit_code = 128 + received.value
