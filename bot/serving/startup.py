"""The start-up and shutdown hooks of serving: the form storage waited for, the schema brought
to head (or verified) on the dispatcher's own loop with a replica for reads waited for, the
command list set in each language, and the webhook set or cleared for polling."""

from __future__ import annotations

import asyncio
from enum import StrEnum

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import BotCommand
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.config import Settings
from bot.i18n import _, speaking
from bot.i18n.languages import ENGLISH, RUSSIAN, RUSSIAN_CLIENTS
from bot.serving.health import SCHEMA_AT_HEAD, Readiness
from bot.serving.replica import ReplicaReads, verify_replica
from bot.serving.storage import StorageHealth, wait_for_redis, watch_redis


def commands() -> list[BotCommand]:
    """The bot's command list, in the current language."""
    return [
        BotCommand(command="start", description=_("Main menu")),
        BotCommand(command="search", description=_("Find a product")),
        BotCommand(command="cancel", description=_("Cancel the current action")),
    ]


def command_languages(default: str) -> list[tuple[str | None, str]]:
    """(client language, bot language) pairs to set the command list for: the default list
    (None) in DEFAULT_LANGUAGE, then each client language the bot answers in another one."""
    clients = [("en", ENGLISH), *((code, RUSSIAN) for code in RUSSIAN_CLIENTS)]
    return [(None, default), *((code, bot) for code, bot in clients if bot != default)]


class SchemaMode(StrEnum):
    MIGRATE = "migrate"  # bring the schema to head under the migration lock
    VERIFY = "verify"  # --no-migrate: only check (and wait for) the schema


async def prepare_schema(
    engine: AsyncEngine, settings: Settings, mode: SchemaMode, replica: ReplicaReads | None
) -> None:
    """Runs on the dispatcher's loop before the first getUpdates; raising here stops the start.
    A replica for reads is then waited for, and watched."""
    options = migration.MigrationOptions.from_settings(settings)
    if mode is SchemaMode.MIGRATE:
        await migration.migrate(engine, options)
    else:
        await migration.verify(engine, options)
    if replica is not None:
        await verify_replica(replica, options)
        await replica.start()


async def on_startup(
    bot: Bot,
    dispatcher: Dispatcher,
    engine: AsyncEngine,
    settings: Settings,
    schema_mode: SchemaMode,
    readiness: Readiness,
    replica: ReplicaReads | None,
) -> None:
    health: StorageHealth | None = dispatcher.workflow_data.get("storage_health")
    if health is not None:
        assert isinstance(dispatcher.storage, RedisStorage)
        await wait_for_redis(dispatcher.storage.redis, health.where, settings.db_connect_timeout)
    await prepare_schema(engine, settings, schema_mode, replica)
    readiness.schema = SCHEMA_AT_HEAD
    for client_language, language in command_languages(settings.default_language):
        with speaking(language):
            await bot.set_my_commands(commands(), language_code=client_language)
    endpoint = settings.webhook_endpoint
    if endpoint is None:
        # Telegram refuses getUpdates while a webhook is set (e.g. by an earlier deployment).
        await bot.delete_webhook(drop_pending_updates=False)
        receiving = "polling for updates (or standing by while another instance polls)"
    else:
        assert settings.webhook_secret is not None
        await bot.set_webhook(
            endpoint,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=dispatcher.resolve_used_update_types(),
            drop_pending_updates=False,
        )
        receiving = f"receiving updates by webhook at {endpoint}"
    me = await bot.me()
    logger.info("bot @{} (id {}) is ready; {}", me.username, me.id, receiving)
    if health is not None:
        assert isinstance(dispatcher.storage, RedisStorage)
        dispatcher["storage_watch"] = asyncio.create_task(
            watch_redis(dispatcher.storage.redis, health)
        )


async def on_shutdown(dispatcher: Dispatcher) -> None:
    watch: asyncio.Task[None] | None = dispatcher.workflow_data.get("storage_watch")
    if watch is not None:
        watch.cancel()
    await dispatcher.storage.close()
    logger.info("bot stopped")
