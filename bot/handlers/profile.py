"""My purchases: how many, how much spent per currency, the list, and getting one again."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.dao.catalog import ProductDAO
from bot.dao.money import format_amount
from bot.dao.purchases import PurchaseDAO
from bot.handlers.delivery import Goods, deliver
from bot.handlers.ui import show, stale
from bot.keyboards.callbacks import Menu, MenuAction, PurchasesPage, Redeliver
from bot.keyboards.common import page_caption
from bot.keyboards.profile import no_purchases_keyboard, purchases_keyboard

router = Router(name="profile")


async def _show_purchases(
    callback: CallbackQuery, session: AsyncSession, settings: Settings, number: int
) -> None:
    purchases = PurchaseDAO(session)
    page = await purchases.page_of(callback.from_user.id, number, settings.catalog_page_size)
    if not page.total:
        await show(callback, "🧾 You have no purchases yet.", no_purchases_keyboard())
        return
    if not page.exists:
        await stale(callback)
        return
    spending = await purchases.spending_of(callback.from_user.id)
    totals = ", ".join(format_amount(amount, cur) for cur, amount in spending.totals.items())
    lines = [
        "🧾 <b>My purchases</b>",
        f"Purchases: {spending.purchases}",
        f"Total spent: {totals}",
        "",
    ]
    for purchase in page.items:
        when = purchase.created_at.strftime("%Y-%m-%d %H:%M UTC")
        price = format_amount(purchase.amount, purchase.currency)
        lines.append(f"• {escape(purchase.product.name)} — {price} — {when}")
    lines.append("\nTap a product to get it again.")
    await show(callback, "\n".join(lines) + page_caption(page), purchases_keyboard(page))


@router.callback_query(Menu.filter(F.action == MenuAction.PURCHASES))
async def my_purchases(callback: CallbackQuery, session: AsyncSession, settings: Settings) -> None:
    await _show_purchases(callback, session, settings, 0)


@router.callback_query(PurchasesPage.filter())
async def purchases_page(
    callback: CallbackQuery,
    callback_data: PurchasesPage,
    session: AsyncSession,
    settings: Settings,
) -> None:
    await _show_purchases(callback, session, settings, callback_data.page)


@router.callback_query(Redeliver.filter())
async def redeliver(
    callback: CallbackQuery, callback_data: Redeliver, session: AsyncSession, bot: Bot
) -> None:
    owned = await PurchaseDAO(session).owns(callback.from_user.id, callback_data.product_id)
    # Hidden products too: whoever bought one keeps access to it.
    product = await ProductDAO(session).get(callback_data.product_id) if owned else None
    if product is None:
        await stale(callback)
        return
    await deliver(bot, callback.from_user.id, Goods.of(product))
    await callback.answer()
