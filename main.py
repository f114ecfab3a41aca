"""shopbot: brings the database schema to head on the bot's own event loop, then polls Telegram.

Exit codes: 0 ok; 2 configuration error (settings, DATABASE_URL, credentials, bot token,
webhook port); 3 the database, Redis or the Bot API is unreachable; 4 the schema could not be
migrated or verified (a read-only database included), or a pending revision would block
writes on a big table (the migration guard, `--plan`);
128 + N: signal N (SIGTERM 143, SIGINT 130) arrived while start-up was only waiting (for the
database, the migration lock or the schema), so nothing was changed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from loguru import logger

from bot.config import DatabaseSettings, Settings, database_secrets, load_settings
from bot.dao.database import UnusableSQLiteError, check_sqlite_database, create_engine
from bot.errors import ConfigError, SchemaError, StartupError
from bot.log import setup_logging
from bot.migration import MigrationOptions, migrate
from bot.migration.preview import show_plan


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description=(
            "Run the shop bot. On start it brings the database schema to the newest revision "
            "(safely: one instance migrates under a lock, the others wait), then polls Telegram "
            "(or serves a webhook when WEBHOOK_URL is set). "
            "Settings come from the environment and .env (see README)."
        ),
        epilog=(
            "exit codes: 0 ok, 2 configuration error, 3 database, Redis or Bot API unreachable, "
            "4 schema could not be migrated or verified, or a pending revision would block "
            "writes on a table above MIGRATION_GUARD_ROWS, 143/130 stopped by SIGTERM/SIGINT "
            "while waiting (for the database, the migration lock or the schema)"
        ),
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--no-migrate",
        action="store_true",
        help=(
            "never change the schema (read replicas, extra workers): check that it is at head, "
            "wait up to SCHEMA_WAIT_TIMEOUT seconds if it is behind, refuse if it does not "
            "catch up"
        ),
    )
    mode.add_argument(
        "--migrate-only",
        action="store_true",
        help=(
            "bring the schema to head and exit 0 without polling (release phases, init "
            "containers); needs only DATABASE_URL, no BOT_TOKEN"
        ),
    )
    mode.add_argument(
        "--plan",
        action="store_true",
        help=(
            "print the pending revisions and, for each statement, the lock it takes, its "
            "table's rows and size and whether it blocks writes; change nothing (a replica "
            "will do); exit 4 if one would block writes on a table above "
            "MIGRATION_GUARD_ROWS; needs only DATABASE_URL"
        ),
    )
    return parser.parse_args(argv)


async def migrate_only(settings: DatabaseSettings, *, plan: bool = False) -> None:
    engine = create_engine(settings.database)
    options = MigrationOptions.from_settings(settings)
    try:
        await (show_plan(engine, options) if plan else migrate(engine, options))
    finally:
        await engine.dispose()


def check_database_file(settings: DatabaseSettings) -> None:
    """A SQLite database must be a file the bot may write: read-only is exit 4 (like a
    read-only PostgreSQL), anything else a configuration error."""
    try:
        check_sqlite_database(settings.database)
    except UnusableSQLiteError as error:
        raise (SchemaError if error.read_only else ConfigError)(str(error)) from None


def run_bot(settings: Settings, *, no_migrate: bool) -> None:
    # Imported here: aiogram takes seconds to import and --migrate-only never needs it.
    from bot.app import run
    from bot.serving.startup import SchemaMode

    mode = SchemaMode.VERIFY if no_migrate else SchemaMode.MIGRATE
    asyncio.run(run(settings, mode))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(DatabaseSettings if args.migrate_only or args.plan else Settings)
    except ConfigError as error:
        print(f"shopbot: configuration error: {error}", file=sys.stderr)
        return ConfigError.exit_code
    secrets = settings.secrets if isinstance(settings, Settings) else database_secrets(settings)
    setup_logging(settings.log_level, settings.log_format, secrets)
    try:
        check_database_file(settings)
        if isinstance(settings, Settings):
            run_bot(settings, no_migrate=args.no_migrate)
        else:
            asyncio.run(migrate_only(settings, plan=args.plan))
    except StartupError as error:
        logger.error("{}", error)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
