"""Builds the Bot and the Dispatcher and runs them: migrate (or verify) on startup, then poll
or serve the webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import BotCommand
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import migration
from bot.config import Settings
from bot.dao.database import create_engine, create_session_factory
from bot.errors import ConfigError, UnreachableError
from bot.handlers import routers
from bot.middlewares.database import DatabaseSessionMiddleware, ShopFactory
from bot.shop import Shop
from bot.webhook import serve_webhook

COMMANDS = [
    BotCommand(command="start", description="Main menu"),
    BotCommand(command="cancel", description="Cancel the current action"),
]


class SchemaMode(StrEnum):
    MIGRATE = "migrate"  # bring the schema to head under the migration lock
    VERIFY = "verify"  # --no-migrate: only check (and wait for) the schema


def build_bot(settings: Settings) -> Bot:
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.bot_api_url))
        if settings.bot_api_url
        else AiohttpSession()
    )
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def build_storage(settings: Settings) -> BaseStorage:
    """FSM state in memory, or in Redis when REDIS_URL is set so forms survive a restart.

    Keys carry the bot's id (`fsm:<bot id>:<chat>:<user>:...`): bots sharing one Redis
    never see each other's forms.
    """
    if settings.redis_url is None:
        return MemoryStorage()
    return RedisStorage.from_url(
        settings.redis_url.get_secret_value(), key_builder=DefaultKeyBuilder(with_bot_id=True)
    )


def build_dispatcher(
    settings: Settings,
    engine: AsyncEngine,
    mode: SchemaMode,
    *,
    shop_factory: ShopFactory = Shop.on,
) -> Dispatcher:
    """`shop_factory` builds the `shop` handlers get for each update's session."""
    dispatcher = Dispatcher(
        storage=build_storage(settings), settings=settings, engine=engine, schema_mode=mode
    )
    sessions = DatabaseSessionMiddleware(create_session_factory(engine), shop_factory)
    dispatcher.update.outer_middleware(sessions)
    dispatcher.include_routers(*routers())
    dispatcher.startup.register(on_startup)
    dispatcher.shutdown.register(on_shutdown)
    return dispatcher


async def prepare_schema(engine: AsyncEngine, settings: Settings, mode: SchemaMode) -> None:
    """Runs on the dispatcher's loop before the first getUpdates; raising here stops the start."""
    options = migration.MigrationOptions.from_settings(settings)
    if mode is SchemaMode.MIGRATE:
        await migration.migrate(engine, options)
    else:
        await migration.verify(engine, options)


async def on_startup(
    bot: Bot,
    dispatcher: Dispatcher,
    engine: AsyncEngine,
    settings: Settings,
    schema_mode: SchemaMode,
) -> None:
    await prepare_schema(engine, settings, schema_mode)
    await bot.set_my_commands(COMMANDS)
    endpoint = settings.webhook_endpoint
    if endpoint is None:
        # Telegram refuses getUpdates while a webhook is set (e.g. by an earlier deployment).
        await bot.delete_webhook(drop_pending_updates=False)
        receiving = "polling for updates"
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


async def on_shutdown(dispatcher: Dispatcher) -> None:
    await dispatcher.storage.close()
    logger.info("bot stopped")


@asynccontextmanager
async def _bot_api_errors() -> AsyncIterator[None]:
    """The Bot API's refusals at start-up become one line with the right exit code."""
    try:
        yield
    except TelegramUnauthorizedError:
        raise ConfigError(
            "the Bot API rejected BOT_TOKEN as unauthorized; check it with @BotFather"
        ) from None
    except TelegramNetworkError as error:
        raise UnreachableError(
            f"cannot reach the Bot API ({error.message}); check BOT_API_URL and the network"
        ) from None


async def run(settings: Settings, mode: SchemaMode) -> None:
    """Serve until stopped: by webhook when WEBHOOK_URL is set, else by long polling."""
    engine = create_engine(settings.database)
    bot = build_bot(settings)
    dispatcher = build_dispatcher(settings, engine, mode)
    try:
        async with _bot_api_errors():
            if settings.webhook_endpoint is not None:
                await serve_webhook(dispatcher, bot, settings)
            else:
                await dispatcher.start_polling(
                    bot, allowed_updates=dispatcher.resolve_used_update_types()
                )
    finally:
        await bot.session.close()
        await engine.dispose()
