"""Products: the full list (hidden ones too), hide/show, delete (or hide, if bought)."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery

from bot.config import Settings
from bot.dao.models import Product
from bot.handlers.admin.units import units_line
from bot.handlers.ui import load_or_stale, show, stale
from bot.keyboards.admin import product_keyboard, products_keyboard
from bot.keyboards.callbacks import AdminProduct, AdminProducts, ProductAction
from bot.keyboards.common import page_caption
from bot.shop import Shop
from bot.shop.catalog import Removal, remove_product
from bot.shop.money import format_amount
from bot.shop.restock import notify_restock
from bot.shop.stock import is_stock, now
from bot.states import AddUnits

router = Router(name="admin-products")

ASK_FOR_UNITS = (
    "➕ Units of <b>{name}</b>: send them as a message or a .txt/.csv document, one unit per "
    "line (up to 4000 characters each). /cancel stops."
)


async def _show_list(
    callback: CallbackQuery, shop: Shop, settings: Settings, number: int, note: str = ""
) -> None:
    page = await shop.products.page_all(number, settings.catalog_page_size)
    if not page.exists:
        await stale(callback)
        return
    title = "📦 <b>Products</b> (🟢 on sale, ⚪️ hidden)" if page.total else "No products yet."
    await show(callback, f"{note}{title}{page_caption(page)}", products_keyboard(page))


async def _show_product(
    callback: CallbackQuery, shop: Shop, product: Product, note: str = ""
) -> None:
    lines = [
        f"{note}<b>{escape(product.name)}</b> (#{product.id})",
        f"Category: {escape(product.category.name)}",
        f"Price: {format_amount(product.price, product.currency)}",
        f"Status: {'🟢 on sale' if product.on_sale else '⚪️ hidden'}",
        f"File: {'yes' if product.file_id else 'none'}",
        f"Purchases: {await shop.products.purchase_count(product.id)}",
    ]
    if is_stock(product):
        lines.append(await units_line(shop, product.id))
    await show(callback, "\n".join(lines), product_keyboard(product))


async def _toggle_on_sale(shop: Shop, product: Product) -> str:
    """Hide the product, or put it back on sale: then the customers waiting for a stock one
    that has units (added while it was hidden) are told, as a load tells them."""
    if product.on_sale:
        await shop.products.set_on_sale(product, False)
        return "🙈 Hidden from the catalog.\n\n"
    await shop.products.get(product.id, lock=True)  # before the change, as a load locks it
    await shop.products.set_on_sale(product, True)
    told = await notify_restock(shop, product.id) if is_stock(product) else 0
    waiting = f" {told} waiting customer{'' if told == 1 else 's'} will be told." if told else ""
    return f"✅ Back on sale.{waiting}\n\n"


@router.callback_query(AdminProducts.filter())
async def products(
    callback: CallbackQuery, callback_data: AdminProducts, shop: Shop, settings: Settings
) -> None:
    await _show_list(callback, shop, settings, callback_data.page)


@router.callback_query(AdminProduct.filter())
async def product_action(
    callback: CallbackQuery,
    callback_data: AdminProduct,
    shop: Shop,
    settings: Settings,
    state: FSMContext,
) -> None:
    product = await load_or_stale(callback, shop.products.get(callback_data.product_id))
    if product is None:
        return
    if callback_data.action is ProductAction.VIEW:
        await _show_product(callback, shop, product)
    elif callback_data.action is ProductAction.ADD_UNITS and is_stock(product):
        await state.set_state(AddUnits.lines)
        await state.update_data(product_id=product.id)
        await show(callback, ASK_FOR_UNITS.format(name=escape(product.name)))
    elif callback_data.action is ProductAction.REMOVE_UNSOLD and is_stock(product):
        removed = await shop.stock.remove_unsold(product.id, now())
        await _show_product(callback, shop, product, f"🧹 Removed {removed} unsold units.\n\n")
    elif callback_data.action is ProductAction.TOGGLE:
        await _show_product(callback, shop, product, await _toggle_on_sale(shop, product))
    elif await remove_product(shop, product) is Removal.DELETED:
        await _show_list(callback, shop, settings, 0, f"🗑 “{escape(product.name)}” deleted.\n\n")
    else:
        note = "It has purchases, so it was hidden instead of deleted: its buyers keep access.\n\n"
        await _show_product(callback, shop, product, note)
