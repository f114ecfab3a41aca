"""alembic's environment, serving three callers with one file.

1. The bot (`bot.migration`): it hands a sync connection in `config.attributes["connection"]`
   from inside its running event loop; we only run the migrations on it.
2. The alembic CLI online: no loop is running, so `asyncio.run` one, on a connection that
   holds the same migration lock as the bot (commands that only read, such as `current`,
   take none and also work on a replica). pytest-alembic hands in an AsyncEngine, or an
   engine-like wrapper of its own connection, and brings its own isolation: it gets a plain
   connection.
3. Offline (`alembic upgrade head --sql`): print the SQL, touch nothing.
"""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dao import Base
from bot.migration import cli
from bot.migration.concurrent import dead_builds_replaced
from bot.migration.context import context_options, sqlite_foreign_keys_off

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    url = cli.cli_database_url(config)
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **context_options(url.get_backend_name(), config),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **context_options(connection.dialect.name, config),
    )
    with (
        sqlite_foreign_keys_off(connection),
        dead_builds_replaced(connection),
        context.begin_transaction(),
    ):
        context.run_migrations()


async def run_async_migrations(engine: AsyncEngine | None = None) -> None:
    if engine is not None:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
        return
    async with cli.cli_connection(config) as connection:
        await connection.run_sync(do_run_migrations)


handed_in = config.attributes.get("connection")
if context.is_offline_mode():
    with cli.cli_session():
        run_migrations_offline()
elif isinstance(handed_in, Connection):
    do_run_migrations(handed_in)
elif isinstance(handed_in, AsyncEngine):
    asyncio.run(run_async_migrations(handed_in))
elif handed_in is not None:  # a sync Engine, or pytest-alembic's wrapper of its connection
    with handed_in.connect() as connection:
        do_run_migrations(connection)
else:
    with cli.cli_session():
        asyncio.run(run_async_migrations())
