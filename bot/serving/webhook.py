"""Serving updates by webhook instead of polling: an aiohttp server that Telegram posts to (and
the payment gateways' callbacks, when one is set up: bot.web.payment_callbacks).

The path never contains the bot token; Telegram proves itself with the secret header
(`X-Telegram-Bot-Api-Secret-Token`), which aiogram's handler checks on every request.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from loguru import logger
from pydantic import ValidationError

from bot.config import Settings
from bot.payments.gateway_orders import Gateways
from bot.serving.health import Readiness, add_health_routes
from bot.serving.listening import listen
from bot.serving.storage import StorageUnavailable
from bot.web.payment_callbacks import add_payment_routes


class _CheckedRequestHandler(SimpleRequestHandler):
    """aiogram's handler, plus: 503 until the startup hooks are done (Telegram retries; an
    earlier deployment's webhook may already point here), 503 for an update that met Redis
    down (Telegram delivers it again: bot.serving.storage), and 400 with one warning line for a body
    that is not a Telegram update (aiogram would answer 500 with a traceback). At most
    `in_flight` updates are handled at once (UPDATES_IN_FLIGHT, as polling's
    tasks_concurrency_limit); the others wait for a turn, their requests open."""

    serving = False

    def __init__(self, *args: Any, in_flight: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(in_flight)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.serving:
            return web.Response(status=503, text="starting")
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if self.verify_secret(secret, self.bot):  # an unauthorized body is not looked at
            problem = await _not_an_update(request, self.bot)
            if problem is not None:
                logger.warning("webhook: refused a request whose body is {}", problem)
                return web.Response(status=400, text="Bad Request: not a Telegram update")
        try:
            async with self._turns:
                return await super().handle(request)
        except StorageUnavailable:
            return web.Response(status=503, text="form storage unavailable")


async def _not_an_update(request: web.Request, bot: Bot) -> str | None:
    """What is wrong with the body, or None when it is a Telegram update."""
    try:
        body = await request.json(loads=bot.session.json_loads)
    except ValueError as error:  # not UTF-8 or not JSON
        return f"not JSON ({' '.join(str(error).split())})"
    try:
        Update.model_validate(body, context={"bot": bot})
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        return f"not a Telegram update ({where}: {first['msg']})"
    return None


async def serve_webhook(dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
    """Bind the port first, so that a port in use stops the start before Telegram hears of
    us; then run the startup hooks (migration, setWebhook) and serve until SIGTERM or SIGINT.

    Each update is answered only once it is handled (not in the background): Telegram keeps
    an update until we have taken it, and sends it again if we die first. On a stop, new
    requests get 503 (Telegram keeps them too), the ones in flight finish (up to
    SHUTDOWN_TIMEOUT), and only then do the shutdown hooks run. (aiogram answers a handler
    still busy after 55 s anyway and lets it go on in the background: a payment has been
    journaled long before, and the shutdown waits for it.)"""
    assert settings.webhook_secret is not None  # Settings refuses a webhook without one
    app = web.Application()
    handler = _CheckedRequestHandler(
        dispatcher,
        bot,
        handle_in_background=False,
        secret_token=settings.webhook_secret.get_secret_value(),
        in_flight=settings.updates_in_flight,
    )
    handler.register(app, path=settings.webhook_path)
    readiness: Readiness = dispatcher["readiness"]
    add_health_routes(
        app, readiness, dispatcher["engine"], dispatcher.workflow_data.get("storage_health")
    )
    gateways: Gateways | None = dispatcher.workflow_data.get("gateways")
    if gateways is not None:
        add_payment_routes(app, gateways, bot, readiness)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=settings.shutdown_timeout
    )
    await runner.setup()
    hooks = {"app": app, "dispatcher": dispatcher, "bot": bot, **dispatcher.workflow_data}
    started = False
    with stop_signals() as stop:  # from here on a stop during the start-up is not lost
        try:
            await listen(
                runner,
                settings.webhook_host,
                settings.webhook_port,
                what="listen for the webhook",
                setting="WEBHOOK_PORT (or WEBHOOK_HOST)",
            )
            await dispatcher.emit_startup(**hooks)  # a failed migration raises here
            started = True
            handler.serving = True
            logger.info(
                "listening for webhook updates on {}:{}{}",
                settings.webhook_host,
                settings.webhook_port,
                settings.webhook_path,
            )
            await stop.wait()
            handler.serving = False
            readiness.stopping = True
            logger.info("stopping: new webhook updates get 503 while those in flight finish")
        finally:
            await runner.cleanup()  # stops listening; the requests in flight finish first
            if started:
                await dispatcher.emit_shutdown(**hooks)


@contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event SIGTERM and SIGINT set while the block runs. (A migration's waits take the
    signals for themselves meanwhile and hand them on: bot.migration.waiting.)"""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
