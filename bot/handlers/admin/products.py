"""Products: the full list (hidden ones too), hide/show, delete (or hide, if bought)."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.dao.catalog import ProductDAO, Removal
from bot.dao.models import Product
from bot.dao.money import format_amount
from bot.handlers.ui import show, stale
from bot.keyboards.admin import product_keyboard, products_keyboard
from bot.keyboards.callbacks import AdminProduct, AdminProducts, ProductAction
from bot.keyboards.common import page_caption

router = Router(name="admin-products")


async def _show_list(
    callback: CallbackQuery, dao: ProductDAO, settings: Settings, number: int, note: str = ""
) -> None:
    page = await dao.page_all(number, settings.catalog_page_size)
    if not page.exists:
        await stale(callback)
        return
    title = "📦 <b>Products</b> (🟢 on sale, ⚪️ hidden)" if page.total else "No products yet."
    await show(callback, f"{note}{title}{page_caption(page)}", products_keyboard(page))


async def _show_product(
    callback: CallbackQuery, dao: ProductDAO, product: Product, note: str = ""
) -> None:
    lines = [
        f"{note}<b>{escape(product.name)}</b> (#{product.id})",
        f"Category: {escape(product.category.name)}",
        f"Price: {format_amount(product.price, product.currency)}",
        f"Status: {'🟢 on sale' if product.on_sale else '⚪️ hidden'}",
        f"File: {'yes' if product.file_id else 'none'}",
        f"Purchases: {await dao.purchase_count(product.id)}",
    ]
    await show(callback, "\n".join(lines), product_keyboard(product))


@router.callback_query(AdminProducts.filter())
async def products(
    callback: CallbackQuery, callback_data: AdminProducts, session: AsyncSession, settings: Settings
) -> None:
    await _show_list(callback, ProductDAO(session), settings, callback_data.page)


@router.callback_query(AdminProduct.filter())
async def product_action(
    callback: CallbackQuery, callback_data: AdminProduct, session: AsyncSession, settings: Settings
) -> None:
    dao = ProductDAO(session)
    product = await dao.get(callback_data.product_id)
    if product is None:
        await stale(callback)
        return
    if callback_data.action is ProductAction.VIEW:
        await _show_product(callback, dao, product)
    elif callback_data.action is ProductAction.TOGGLE:
        await dao.set_on_sale(product, not product.on_sale)
        note = "✅ Back on sale.\n\n" if product.on_sale else "🙈 Hidden from the catalog.\n\n"
        await _show_product(callback, dao, product, note)
    elif await dao.delete_or_hide(product) is Removal.DELETED:
        await _show_list(callback, dao, settings, 0, f"🗑 “{escape(product.name)}” deleted.\n\n")
    else:
        note = "It has purchases, so it was hidden instead of deleted: its buyers keep access.\n\n"
        await _show_product(callback, dao, product, note)
