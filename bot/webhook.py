"""Serving updates by webhook instead of polling: an aiohttp server that Telegram posts to.

The path never contains the bot token; Telegram proves itself with the secret header
(`X-Telegram-Bot-Api-Secret-Token`), which aiogram's handler checks on every request.
"""

from __future__ import annotations

import asyncio
import signal

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from loguru import logger

from bot.config import Settings


async def serve_webhook(dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
    """Run the startup hooks (migration, setWebhook), then serve until SIGTERM or SIGINT."""
    assert settings.webhook_secret is not None  # Settings refuses a webhook without one
    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, secret_token=settings.webhook_secret.get_secret_value()
    ).register(app, path=settings.webhook_path)
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()  # emits the dispatcher's startup: a failed migration raises here
    try:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        logger.info(
            "listening for webhook updates on {}:{}{}",
            settings.webhook_host,
            settings.webhook_port,
            settings.webhook_path,
        )
        await _stop_requested()
    finally:
        await runner.cleanup()  # emits the dispatcher's shutdown


async def _stop_requested() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
