"""Screens with a photo (a product's card, a category's page): sent as a photo with the
screen's text as its caption, edited in place when the button was on a photo already (a text
message cannot become a photo: then the photo comes as a new message). A text longer than a
caption may be comes whole in a message of its own under the photo. A photo Telegram no
longer takes (a bad file id) is logged once and the screen shown as text."""

from __future__ import annotations

from html import escape

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InaccessibleMessage, InlineKeyboardMarkup, InputMediaPhoto, Message
from loguru import logger

from bot.shop.telegram_html import CAPTION_MAX, shown_length

# File ids Telegram refused, each logged once per process.
_refused: set[str] = set()


def usable(photo: str | None) -> str | None:
    """The photo, unless Telegram refused it before."""
    return None if photo is None or photo in _refused else photo


async def show_photo(
    message: Message | InaccessibleMessage | None,
    photo: str,
    text: str,
    markup: InlineKeyboardMarkup | None,
    *,
    heading: str,
) -> bool:
    """Show the screen as `photo` with `text`; `heading` (plain text) is its caption when
    `text` is too long for one. False when Telegram refused the photo (the caller shows the
    screen as text)."""
    if message is None:
        return False
    fits = shown_length(text) <= CAPTION_MAX
    caption, caption_markup = (text, markup) if fits else (escape(heading), None)
    try:
        if isinstance(message, Message) and message.photo:
            await _edit(message, photo, caption, caption_markup)
        else:
            await message.answer_photo(photo, caption=caption, reply_markup=caption_markup)
    except TelegramBadRequest as error:
        if "not modified" in error.message:
            return True
        if photo not in _refused:
            _refused.add(photo)
            logger.warning("Telegram refused photo {} ({}); shown as text", photo, error.message)
        return False
    if not fits:
        await message.answer(text, reply_markup=markup)
    return True


async def _edit(
    message: Message, photo: str, caption: str, markup: InlineKeyboardMarkup | None
) -> None:
    media = InputMediaPhoto(media=photo, caption=caption)
    await message.edit_media(media, reply_markup=markup)
