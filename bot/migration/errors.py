"""Every way bringing up the schema can fail, one class per cause a user must act on.

Exception classes only; `failures.py` maps database and alembic errors to them. Each class
takes its exit code from the row of `bot.errors` it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import ConfigError, SchemaError, UnreachableError

__all__ = [
    "BackupFailedError",
    "DatabaseConfigError",
    "DatabaseFailedError",
    "DatabaseUnreachableError",
    "ForeignKeyViolationError",
    "LockTimeoutError",
    "MigrationSetupError",
    "MultipleHeadsError",
    "ReadOnlyDatabaseError",
    "ReadOnlyServingError",
    "RevisionFailedError",
    "RevisionScriptError",
    "SchemaBehindError",
    "SchemaError",
    "UnknownRevisionError",
]


class DatabaseConfigError(ConfigError):
    """The database refused us for a reason retrying cannot fix (password, missing db)."""


class DatabaseUnreachableError(UnreachableError):
    """The database did not answer before the start-up deadline, or the connection was lost."""


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
            "(a newer release, or another branch sharing this database, migrated it); deploy "
            "the code that has it, or set ALLOW_UNKNOWN_REVISION=true to serve anyway during "
            "a rolling deploy"
        )
        self.revisions = tuple(revisions)


class ReadOnlyDatabaseError(SchemaError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the database is read-only ({reason}); cannot migrate here: point DATABASE_URL at "
            "the primary, or start this instance with --no-migrate"
        )


class ReadOnlyServingError(ConfigError):
    """`--no-migrate` (or the stock loader) on a read-only database: it writes, so it could
    not do its work there (a bot writes for every user, at their /start)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the database is read-only ({reason}); the bot writes for every user it serves "
            "(and the stock loader its units), so it cannot run on it: point DATABASE_URL at "
            "the primary"
        )


class SchemaBehindError(SchemaError):
    """`--no-migrate` found the schema behind the code and it did not catch up in time."""


class RevisionScriptError(SchemaError):
    """A revision file cannot even be loaded (SyntaxError, ImportError...)."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(
            f"the revision file {location} cannot be loaded: {message}; fix the file (nothing "
            "was applied)"
        )
        self.location = location


class RevisionFailedError(SchemaError):
    def __init__(self, revision: str | None, message: str, location: str | None = None) -> None:
        where = f"revision {revision}" if revision else "a migration"
        if location:
            where += f" ({location})"
        super().__init__(
            f"{where} failed and was rolled back, earlier revisions stay applied: {message}"
        )
        self.revision = revision
        self.location = location


class ForeignKeyViolationError(RevisionFailedError):
    """SQLite: a revision left rows whose foreign keys point at nothing."""

    def __init__(self, revision: str | None, violations: str) -> None:
        super().__init__(
            revision, f"it leaves rows whose foreign key points at nothing: {violations}"
        )


class MigrationSetupError(SchemaError):
    """The migration connection could not be prepared; nothing was applied."""


class BackupFailedError(SchemaError):
    """SQLite: no copy of the database could be made before migrating (no room for it, a
    directory we may not write); nothing was applied."""


class DatabaseFailedError(SchemaError):
    """The database answered an error outside any revision (e.g. reading the version table)."""
