"""The alembic CLI's side of the migrator: what `migrations/env.py` needs when a person runs
`alembic`: the database URL, a connection holding the same lock as the bot, one-line errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import DatabaseSettings, database_secrets, load_settings, normalize_database_url
from bot.dao.database import create_engine
from bot.errors import ConfigError, StartupError
from bot.log import masker, setup_logging
from bot.migration.backups import back_up_before_cli_upgrade
from bot.migration.connect import connect, refuse_read_only
from bot.migration.failures import revision_failed
from bot.migration.guard import guard
from bot.migration.locks import holder_name, labeled_session, migration_lock
from bot.migration.revisions import VERSION_TABLE, Revisions
from bot.migration.runner import read_current

CLI_NAME = "shopbot-alembic-cli"
# alembic commands that run env.py online but only read: they take no lock (and work on a
# replica). tests/test_cli.py checks this against alembic's own command line parser.
CLI_READERS = frozenset({"current", "check", "revision"})


def cli_database_url(config: Config) -> URL:
    """The URL for the alembic CLI: `-x url=...`, else `sqlalchemy.url`, else DATABASE_URL."""
    x_args = config.cmd_opts.x if config.cmd_opts is not None and config.cmd_opts.x else []
    for argument in x_args:
        key, _, value = argument.partition("=")
        if key == "url":
            return _parse_cli_url(value)
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return _parse_cli_url(configured)
    return load_settings(DatabaseSettings).database


def _parse_cli_url(raw: str) -> URL:
    try:
        return normalize_database_url(raw)
    except ValueError as error:
        raise ConfigError(f"database URL: {error}") from None


def cli_command(config: Config) -> str | None:
    """The alembic command being run, as its command line names it. alembic keeps the
    function it dispatches to in `cmd_opts.cmd`; None when alembic was called from code."""
    cmd = getattr(config.cmd_opts, "cmd", None)
    return getattr(cmd[0], "__name__", None) if cmd else None


def cli_changes_schema(config: Config) -> bool:
    """Whether the alembic command may write; only those take the lock (and need a primary)."""
    return cli_command(config) not in CLI_READERS


@asynccontextmanager
async def cli_connection(config: Config) -> AsyncIterator[AsyncConnection]:
    """The connection the alembic CLI migrates on, holding the same lock as `migrate()`."""
    settings = load_settings(DatabaseSettings)
    url = cli_database_url(config)
    masker.add([url.password] if url.password else [])
    engine = create_engine(url, application_name=CLI_NAME)
    try:
        async with connect(engine, deadline=settings.db_connect_timeout) as conn:
            if not cli_changes_schema(config):
                yield conn
                return
            await refuse_read_only(conn)
            name = holder_name(CLI_NAME)
            async with (
                labeled_session(conn, name, ddl_lock_timeout=settings.ddl_lock_timeout),
                migration_lock(
                    conn,
                    version_table=VERSION_TABLE,
                    timeout=settings.migration_lock_timeout,
                    name=name,
                ),
            ):
                if cli_command(config) == "upgrade":
                    await _before_upgrade(conn, config, settings)
                yield conn
    finally:
        await engine.dispose()


async def _before_upgrade(
    conn: AsyncConnection, config: Config, settings: DatabaseSettings
) -> None:
    """What the bot's `migrate()` does before its first revision, for `alembic upgrade`: the
    migration guard, then the SQLite copy; on one reading of the database's revision and one
    load of the scripts."""
    current = await read_current(conn)
    revisions = Revisions(config)
    destination = getattr(config.cmd_opts, "revision", None) or "head"
    mode, rows = settings.migration_guard, settings.migration_guard_rows
    await guard(conn, revisions, current, mode, rows, destination)
    await back_up_before_cli_upgrade(
        conn, revisions, current, destination, keep=settings.migration_backups
    )


@contextmanager
def cli_session() -> Iterator[None]:
    """Logging through loguru and one-line errors for the alembic CLI (alembic prints
    `FAILED: <message>` for a CommandError and exits non-zero)."""
    try:
        settings = load_settings(DatabaseSettings)
        setup_logging(settings.log_level, settings.log_format, database_secrets(settings))
        yield
    except CommandError:
        raise
    except StartupError as error:
        raise CommandError(str(error)) from None
    except Exception as error:
        raise CommandError(str(revision_failed(error))) from None
