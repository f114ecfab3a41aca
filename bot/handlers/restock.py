"""Waiting for a sold-out stock product: 🔔/🔕 on its card, and the notice the outbox sends
when it is back."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.dao.outbox import Outgoing
from bot.handlers.catalog import show_card
from bot.handlers.ui import load_or_stale
from bot.i18n import _
from bot.keyboards.callbacks import Restock
from bot.keyboards.catalog import restock_notice_keyboard
from bot.shop import Shop
from bot.shop.restock import Waiting, free_units, toggle_waiting, wait_again, waitable_product
from bot.shop.stock import stock_label
from bot.telegram.outgoing import Part

router = Router(name="restock")


def _note(waiting: Waiting) -> str:
    """Shown above the card once pressing changed something; a product back in stock needs
    no word."""
    if waiting == Waiting.STARTED:
        return _("🔔 We will tell you once it is back.")
    if waiting == Waiting.STOPPED:
        return _("🔕 You will not be told.")
    return ""


@router.callback_query(Restock.filter())
async def toggle(callback: CallbackQuery, callback_data: Restock, shop: Shop) -> None:
    product = await load_or_stale(callback, waitable_product(shop, callback_data.product_id))
    if product is None:
        return
    waiting = await toggle_waiting(shop, product, callback.from_user.id)
    await show_card(callback, shop, product, callback_data.page, _note(waiting))


async def restock_notice(shop: Shop, row: Outgoing) -> list[Part] | None:
    """The outbox's restock row: the product is back, with a button to its card; None when it
    is off sale, deleted, or sold out again (its customer then waits for the next restock)."""
    product = await shop.products.on_sale(row.product_id) if row.product_id else None
    if product is None:
        return None
    available = await free_units(shop, product.id)
    if not available:
        await wait_again(shop, product.id, row.chat_id)
        return None
    text = _("🔔 <b>{name}</b> is back: {stock}.").format(
        name=escape(product.name), stock=stock_label(available)
    )
    return [Part(text, markup=restock_notice_keyboard(product))]
