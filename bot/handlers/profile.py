"""My purchases: how many, how much spent per currency, the list, and getting one again."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery

from bot.config import Settings
from bot.dao.models import Purchase
from bot.handlers.ui import load_or_stale, show, stale
from bot.i18n import _, ngettext
from bot.i18n.formats import moment
from bot.keyboards.callbacks import Menu, MenuAction, PurchasesPage, Redeliver
from bot.keyboards.common import page_caption
from bot.keyboards.profile import no_purchases_keyboard, purchases_keyboard
from bot.keyboards.reviews import rate_keyboard
from bot.payments.delivery import deliver
from bot.shop import Shop
from bot.shop.delivery import owned_goods
from bot.shop.money import format_amount, format_amounts

router = Router(name="profile")


async def _show_purchases(
    callback: CallbackQuery, shop: Shop, settings: Settings, number: int
) -> None:
    purchases = shop.purchases
    page = await purchases.page_of(callback.from_user.id, number, settings.catalog_page_size)
    if not page.total:
        await show(callback, _("🧾 You have no purchases yet."), no_purchases_keyboard())
        return
    if not page.exists:
        await stale(callback)
        return
    spending = await purchases.spending_of(callback.from_user.id)
    lines = [
        _("🧾 <b>My purchases</b>"),
        ngettext("{count} purchase", "{count} purchases", spending.purchases).format(
            count=spending.purchases
        ),
        _spent_line(spending.totals),
        "",
        *(_purchase_line(purchase) for purchase in page.items),
        "",
        _("Tap a product to get it again."),
    ]
    await show(callback, "\n".join(lines) + page_caption(page), purchases_keyboard(page))


def _spent_line(totals: Mapping[str, int]) -> str:
    """`totals`: the amount kept per currency (refunded purchases left out)."""
    if not totals:
        return _("Total spent: nothing (all refunded)")
    return _("Total spent: {amounts}").format(amounts=format_amounts(totals))


def _purchase_line(purchase: Purchase) -> str:
    values = {
        "name": escape(purchase.product.name),
        "price": format_amount(purchase.amount, purchase.currency),
        "when": moment(purchase.created_at),
    }
    if purchase.refunded_at is not None:
        return _("• {name} — {price} — {when} — ↩️ refunded").format(**values)
    return _("• {name} — {price} — {when}").format(**values)


@router.callback_query(Menu.filter(F.action == MenuAction.PURCHASES))
async def my_purchases(callback: CallbackQuery, shop: Shop, settings: Settings) -> None:
    await _show_purchases(callback, shop, settings, 0)


@router.callback_query(PurchasesPage.filter())
async def purchases_page(
    callback: CallbackQuery,
    callback_data: PurchasesPage,
    shop: Shop,
    settings: Settings,
) -> None:
    await _show_purchases(callback, shop, settings, callback_data.page)


@router.callback_query(Redeliver.filter())
async def redeliver(
    callback: CallbackQuery, callback_data: Redeliver, shop: Shop, bot: Bot
) -> None:
    buyer_id = callback.from_user.id
    goods = await load_or_stale(
        callback,
        owned_goods(shop, buyer_id, callback_data.product_id, callback_data.purchase_id),
    )
    if goods is None:
        return
    purchase_id = callback_data.purchase_id
    await deliver(bot, buyer_id, goods, rate_keyboard(purchase_id) if purchase_id else None)
    await callback.answer()
