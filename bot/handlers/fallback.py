"""Last router: buttons nobody handled (stale or forged data) and errors in handlers."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ErrorEvent
from loguru import logger

from bot.handlers.ui import stale
from bot.i18n import _, default_language, speaking
from bot.middlewares.languages import LanguageCache

router = Router(name="fallback")


@router.callback_query()
async def unknown_button(callback: CallbackQuery) -> None:
    logger.debug(
        "stale or forged callback data from {}: {!r}", callback.from_user.id, callback.data
    )
    await stale(callback)


@router.errors()
async def handler_failed(event: ErrorEvent, languages: LanguageCache | None = None) -> None:
    """Log the failure once, with its traceback, and stop the button's spinner. The update's
    language is no longer current here (errors are caught outside the language middleware):
    the user's is taken from the cache that middleware has just filled."""
    logger.opt(exception=event.exception).error(
        "update {} failed: {!r}", event.update.update_id, event.exception
    )
    callback = event.update.callback_query
    if callback is None:
        return
    known = languages.get(callback.from_user.id) if languages is not None else None
    with suppress(TelegramAPIError), speaking(known or default_language()):
        await callback.answer(_("Something went wrong. Please try again."))
