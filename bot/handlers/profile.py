"""My purchases: how many, how much spent per currency, the list, and getting one again."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery

from bot.config import Settings
from bot.handlers.delivery import deliver
from bot.handlers.ui import load_or_stale, show, stale
from bot.keyboards.callbacks import Menu, MenuAction, PurchasesPage, Redeliver
from bot.keyboards.common import page_caption
from bot.keyboards.profile import no_purchases_keyboard, purchases_keyboard
from bot.shop import Shop
from bot.shop.delivery import owned_goods
from bot.shop.money import format_amount

router = Router(name="profile")


async def _show_purchases(
    callback: CallbackQuery, shop: Shop, settings: Settings, number: int
) -> None:
    purchases = shop.purchases
    page = await purchases.page_of(callback.from_user.id, number, settings.catalog_page_size)
    if not page.total:
        await show(callback, "🧾 You have no purchases yet.", no_purchases_keyboard())
        return
    if not page.exists:
        await stale(callback)
        return
    spending = await purchases.spending_of(callback.from_user.id)
    totals = ", ".join(format_amount(amount, cur) for cur, amount in spending.totals.items())
    totals = totals or "nothing (all refunded)"
    lines = [
        "🧾 <b>My purchases</b>",
        f"Purchases: {spending.purchases}",
        f"Total spent: {totals}",
        "",
    ]
    for purchase in page.items:
        when = purchase.created_at.strftime("%Y-%m-%d %H:%M UTC")
        price = format_amount(purchase.amount, purchase.currency)
        refunded = " — ↩️ refunded" if purchase.refunded_at is not None else ""
        lines.append(f"• {escape(purchase.product.name)} — {price} — {when}{refunded}")
    lines.append("\nTap a product to get it again.")
    await show(callback, "\n".join(lines) + page_caption(page), purchases_keyboard(page))


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
    await deliver(bot, buyer_id, goods)
    await callback.answer()
