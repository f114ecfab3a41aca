"""Last router: buttons nobody handled (stale or forged data) and errors in handlers."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ErrorEvent
from loguru import logger

from bot.handlers.ui import stale

router = Router(name="fallback")


@router.callback_query()
async def unknown_button(callback: CallbackQuery) -> None:
    logger.debug(
        "stale or forged callback data from {}: {!r}", callback.from_user.id, callback.data
    )
    await stale(callback)


@router.errors()
async def handler_failed(event: ErrorEvent) -> None:
    """Log the failure once, with its traceback, and stop the button's spinner."""
    logger.opt(exception=event.exception).error(
        "update {} failed: {!r}", event.update.update_id, event.exception
    )
    callback = event.update.callback_query
    if callback is not None:
        with suppress(TelegramAPIError):
            await callback.answer("Something went wrong. Please try again.")
