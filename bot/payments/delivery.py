"""What a purchase sends its buyer, what the outbox's rows turn into, and the admins' notices
that cannot wait for the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from html import escape

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from loguru import logger

from bot.dao.outbox import Outgoing
from bot.i18n import _
from bot.shop.delivery import Goods, owned_goods
from bot.shop.services import Shop
from bot.telegram.outgoing import Part


def goods_parts(goods: Goods, markup: InlineKeyboardMarkup | None = None) -> list[Part]:
    """The content has its own message (it may be up to 4000 characters); then the file.
    `markup` goes under the last of them."""
    header = _("📦 Here is <b>{name}</b>:").format(name=escape(goods.name))
    parts = [Part(header), Part(escape(goods.content))]
    if goods.file_id:
        parts.append(Part(escape(goods.name), document=goods.file_id))
    if markup is not None:
        parts[-1] = replace(parts[-1], markup=markup)
    return parts


async def goods_delivery(
    shop: Shop, row: Outgoing, markup: InlineKeyboardMarkup | None = None
) -> list[Part] | None:
    """The outbox's goods row: the goods of its purchase; None once refunded."""
    if row.purchase_id is None or row.product_id is None:
        return None
    goods = await owned_goods(shop, row.chat_id, row.product_id, row.purchase_id)
    return goods_parts(goods, markup) if goods is not None else None


async def text_message(_shop: Shop, row: Outgoing) -> list[Part] | None:
    """The outbox's text row: the message written with it."""
    return [Part(row.text)] if row.text else None


async def deliver(
    bot: Bot, chat_id: int, goods: Goods, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send goods again, at the buyer's request (🧾 My purchases); a failure is logged, and
    the buyer can ask again."""
    try:
        for part in goods_parts(goods, markup):
            await part.send(bot, chat_id)
    except TelegramAPIError as error:
        logger.warning(
            "could not deliver product {} to chat {}: {}", goods.product_id, chat_id, error
        )


async def tell_buyer(bot: Bot, chat_id: int, text: str) -> None:
    """A line to a buyer that must not stop what follows if Telegram refuses it."""
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        logger.warning("could not tell buyer {}: {}", chat_id, error)


async def notify_admins(bot: Bot, admin_ids: Iterable[int], text: str) -> None:
    """Tell every admin at once, without the database (it is what failed); one admin who
    blocked the bot does not stop the others."""
    for admin_id in sorted(admin_ids):
        try:
            await bot.send_message(admin_id, text)
        except TelegramAPIError as error:
            logger.warning("could not notify admin {}: {}", admin_id, error)
