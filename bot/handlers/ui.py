"""Showing a screen in answer to a button, and the short answer to a stale button."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message

from bot.handlers.photos import show_photo, usable
from bot.i18n import __

# A lazy text: str() it in the language of the moment.
STALE = __("This button is out of date.")

T = TypeVar("T")


async def show(
    callback: CallbackQuery,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    photo: str | None = None,
    heading: str = "",
) -> None:
    """Replace the text of the message the button is on, or send a new one when that
    message has no text (an invoice, a document, a photo) or can no longer be edited. With
    `photo`, a photo screen (bot.handlers.photos; `heading`: its caption when `text` is too
    long for one)."""
    message = callback.message
    photo = usable(photo)
    if photo is None or not await show_photo(message, photo, text, markup, heading=heading):
        await _show_text(message, text, markup)
    await callback.answer()


async def _show_text(
    message: Message | InaccessibleMessage | None, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    if isinstance(message, Message) and message.text is not None:
        try:
            await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as error:
            if "message is not modified" not in error.message:
                await message.answer(text, reply_markup=markup)
    elif message is not None:
        await message.answer(text, reply_markup=markup)


async def stale(callback: CallbackQuery) -> None:
    await callback.answer(str(STALE))


async def load_or_stale(callback: CallbackQuery, lookup: Awaitable[T | None]) -> T | None:
    """What the button's lookup found; if nothing (deleted, hidden, forged), None once the
    button has been answered as stale."""
    found = await lookup
    if found is None:
        await stale(callback)
    return found
