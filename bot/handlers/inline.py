"""Inline mode: `@<bot> words` in any chat lists the products on sale matching the words (all
of them for no words), a page at a time, each with a button that opens it in the bot (a
deep link: /start p<id>). Only what a customer's card shows ever appears: never a product's
content, never a hidden one, nothing of the admin side. Switched on with @BotFather's
/setinline; without it Telegram sends no inline queries and nothing here runs."""

from __future__ import annotations

import re
from html import escape

from aiogram import Bot, Router
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultCachedPhoto,
    InlineQueryResultUnion,
    InputTextMessageContent,
)
from aiogram.utils.deep_linking import create_start_link

from bot.dao.catalog import ProductView
from bot.handlers.photos import usable
from bot.i18n import _
from bot.shop import Shop
from bot.shop.invoices import clip
from bot.shop.money import format_amount

router = Router(name="inline")

RESULTS_PER_PAGE = 20  # Telegram takes up to 50
CACHE_SECONDS = 30  # how long Telegram keeps an answer for the same query of the same user
DESCRIPTION_CLIP = 300
_PRODUCT_PAYLOAD = re.compile(r"p(\d{1,9})")


def product_in(start_payload: str | None) -> int | None:
    """The product a deep link opens (/start p<id>), if any."""
    found = _PRODUCT_PAYLOAD.fullmatch(start_payload or "")
    return None if found is None else int(found[1])


@router.inline_query()
async def products_found(inline_query: InlineQuery, shop: Shop, bot: Bot) -> None:
    offset = int(inline_query.offset) if inline_query.offset.isdigit() else 0
    found = await shop.search.after(inline_query.query, offset, RESULTS_PER_PAGE)
    results = [await _result(bot, product) for product in found.items]
    await inline_query.answer(
        results,
        cache_time=CACHE_SECONDS,
        is_personal=True,  # the button speaks the user's language
        next_offset=str(offset + len(found.items)) if found.more else "",
    )


async def _result(bot: Bot, product: ProductView) -> InlineQueryResultUnion:
    price = format_amount(product.price, product.currency)
    text = f"<b>{escape(product.name)}</b>\n{price}"
    if product.description:
        text += f"\n\n{escape(clip(product.description, DESCRIPTION_CLIP))}"
    link = await create_start_link(bot, f"p{product.id}")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("🛍 Open in the shop"), url=link)]]
    )
    photo = usable(product.photo)
    if photo is not None:
        return InlineQueryResultCachedPhoto(
            id=f"p{product.id}",
            photo_file_id=photo,
            title=product.name,
            description=price,
            caption=text,
            reply_markup=markup,
        )
    return InlineQueryResultArticle(
        id=f"p{product.id}",
        title=product.name,
        description=f"{price} · {clip(product.description, 100)}" if product.description else price,
        input_message_content=InputTextMessageContent(message_text=text),
        reply_markup=markup,
    )
