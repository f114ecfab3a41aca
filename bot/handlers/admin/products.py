"""Products: the full list (hidden ones too), hide/show, delete (or hide, if bought)."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery

from bot.config import Settings
from bot.dao.models import UNIT_TEXT_MAX, Product
from bot.handlers.admin.photo_form import PHOTO_OF_PRODUCT, ask_for_photo
from bot.handlers.admin.states import AddUnits
from bot.handlers.admin.units import units_line
from bot.handlers.ui import load_or_stale, show, stale
from bot.i18n import _, ngettext
from bot.keyboards.admin import product_keyboard, products_keyboard
from bot.keyboards.callbacks import AdminProduct, AdminProducts, ProductAction
from bot.keyboards.common import page_caption
from bot.shop import Shop
from bot.shop.catalog import Removal, remove_product
from bot.shop.money import format_amount
from bot.shop.restock import notify_restock
from bot.shop.stock import is_stock, now

router = Router(name="admin-products")


def ask_for_units(name: str) -> str:
    """The prompt for a stock product's units; `name` is the product's, unescaped."""
    text = ngettext(
        "➕ Units of <b>{name}</b>: send them as a message or a .txt/.csv document, one unit per "
        "line (up to {count} character each). /cancel stops.",
        "➕ Units of <b>{name}</b>: send them as a message or a .txt/.csv document, one unit per "
        "line (up to {count} characters each). /cancel stops.",
        UNIT_TEXT_MAX,
    )
    return text.format(name=escape(name), count=UNIT_TEXT_MAX)


def category_line(name: str | None) -> str:
    """A product's category on its card; None: the category has been deleted."""
    if name is None:
        return _("Category: (deleted)")
    return _("Category: {name}").format(name=escape(name))


def price_line(amount: int, currency: str) -> str:
    return _("Price: {price}").format(price=format_amount(amount, currency))


async def _show_list(
    callback: CallbackQuery, shop: Shop, settings: Settings, number: int, note: str = ""
) -> None:
    page = await shop.products.page_all(number, settings.catalog_page_size)
    if not page.exists:
        await stale(callback)
        return
    title = _("📦 <b>Products</b> (🟢 on sale, ⚪️ hidden)") if page.total else _("No products yet.")
    await show(callback, f"{note}{title}{page_caption(page)}", products_keyboard(page))


async def _show_product(
    callback: CallbackQuery, shop: Shop, product: Product, note: str = ""
) -> None:
    purchases = await shop.products.purchase_count(product.id)
    lines = [
        f"{note}<b>{escape(product.name)}</b> (#{product.id})",
        category_line(product.category.name),
        price_line(product.price, product.currency),
        _("Status: 🟢 on sale") if product.on_sale else _("Status: ⚪️ hidden"),
        _("Photo: yes") if product.photo else _("Photo: none"),
        _("File: yes") if product.file_id else _("File: none"),
        _("Purchases: {count}").format(count=purchases),
    ]
    if is_stock(product):
        lines.append(await units_line(shop, product.id))
    await show(callback, "\n".join(lines), product_keyboard(product))


async def _toggle_on_sale(shop: Shop, product: Product) -> str:
    """Hide the product, or put it back on sale: then the customers waiting for a stock one
    that has units (added while it was hidden) are told, as a load tells them."""
    if product.on_sale:
        await shop.products.set_on_sale(product, False)
        return _("🙈 Hidden from the catalog.") + "\n\n"
    await shop.products.get(product.id, lock=True)  # before the change, as a load locks it
    await shop.products.set_on_sale(product, True)
    told = await notify_restock(shop, product.id) if is_stock(product) else 0
    if not told:
        return _("✅ Back on sale.") + "\n\n"
    back = ngettext(
        "✅ Back on sale. {count} waiting customer will be told.",
        "✅ Back on sale. {count} waiting customers will be told.",
        told,
    )
    return back.format(count=told) + "\n\n"


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
        await show(callback, ask_for_units(product.name))
    elif callback_data.action is ProductAction.REMOVE_UNSOLD and is_stock(product):
        removed = await shop.stock.remove_unsold(product.id, now())
        note = ngettext(
            "🧹 Removed {count} unsold unit.", "🧹 Removed {count} unsold units.", removed
        )
        await _show_product(callback, shop, product, note.format(count=removed) + "\n\n")
    elif callback_data.action is ProductAction.TOGGLE:
        await _show_product(callback, shop, product, await _toggle_on_sale(shop, product))
    elif callback_data.action is ProductAction.PHOTO:
        await ask_for_photo(callback, state, PHOTO_OF_PRODUCT, product.id, product.name)
    elif callback_data.action is not ProductAction.DELETE:  # units of a product without any
        await stale(callback)
    elif await remove_product(shop, product) is Removal.DELETED:
        note = _("🗑 “{name}” deleted.").format(name=escape(product.name)) + "\n\n"
        await _show_list(callback, shop, settings, 0, note)
    else:
        note = _("It has purchases, so it was hidden instead of deleted: its buyers keep access.")
        await _show_product(callback, shop, product, note + "\n\n")
