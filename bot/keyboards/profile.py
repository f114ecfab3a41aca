"""Keyboard of "My purchases": per kept (not refunded) purchase, a button to get its content
again and one to rate it."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.dao.models import Purchase
from bot.dao.paging import Page
from bot.i18n import _
from bot.keyboards.callbacks import Menu, MenuAction, PurchasesPage, Redeliver
from bot.keyboards.common import add_pager, button, home_button
from bot.keyboards.reviews import rate_button


def purchases_keyboard(page: Page[Purchase]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for purchase in page.items:
        if purchase.refunded_at is not None:
            continue
        builder.row(
            button(
                f"📦 {purchase.product.name}",
                Redeliver(product_id=purchase.product_id, purchase_id=purchase.id),
            ),
            rate_button(purchase.id),
        )
    add_pager(builder, page, lambda number: PurchasesPage(page=number))
    builder.row(home_button())
    return builder.as_markup()


def no_purchases_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(button(_("🛍 Catalog"), Menu(action=MenuAction.CATALOG)))
    builder.row(home_button())
    return builder.as_markup()
