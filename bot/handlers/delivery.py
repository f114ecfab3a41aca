"""Sending a bought product to its buyer, and telling the admins about sales."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from loguru import logger

from bot.shop.delivery import Goods
from bot.telegram.retries import is_transient


async def deliver(bot: Bot, chat_id: int, goods: Goods) -> bool:
    """Send the content (its own message: it may be up to 4000 characters) and the file.

    A Telegram error (after the session's retries) is logged, not raised: the purchase is
    recorded. When Telegram was only unavailable (not refusing: a blocked bot, a bad file),
    the buyer is told to get the product again from "My purchases".
    """
    try:
        await bot.send_message(chat_id, f"📦 Here is <b>{escape(goods.name)}</b>:")
        await bot.send_message(chat_id, escape(goods.content))
        if goods.file_id:
            await bot.send_document(chat_id, goods.file_id, caption=escape(goods.name))
    except TelegramAPIError as error:
        logger.warning(
            "could not deliver product {} to chat {}: {}", goods.product_id, chat_id, error
        )
        if is_transient(error):
            await _tell_how_to_get_it_again(bot, chat_id, goods)
        return False
    return True


async def _tell_how_to_get_it_again(bot: Bot, chat_id: int, goods: Goods) -> None:
    text = (
        f"⚠️ <b>{escape(goods.name)}</b> did not reach you in full: open /start → "
        "🧾 My purchases and tap it to get it again."
    )
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        logger.warning(
            "could not tell chat {} how to get product {} again: {}",
            chat_id,
            goods.product_id,
            error,
        )


async def notify_admins(bot: Bot, admin_ids: Iterable[int], text: str) -> None:
    """Tell every admin; one admin who blocked the bot does not stop the others."""
    for admin_id in sorted(admin_ids):
        try:
            await bot.send_message(admin_id, text)
        except TelegramAPIError as error:
            logger.warning("could not notify admin {}: {}", admin_id, error)
