"""The embedded migration runner: brings the schema to head on the bot's running event loop.

No aiogram here: the bot calls us, never the reverse. `migrations/env.py` uses `context` (for
every caller) and `cli` (when a person runs alembic).
"""

from bot.migration.progress import AppliedRevision, MigrationReport
from bot.migration.runner import MigrationOptions, SchemaStatus, migrate, status, verify

__all__ = [
    "AppliedRevision",
    "MigrationOptions",
    "MigrationReport",
    "SchemaStatus",
    "migrate",
    "status",
    "verify",
]
