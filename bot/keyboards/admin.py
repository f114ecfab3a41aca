"""Keyboards of the admin panel."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.dao.models import KIND_STOCK, Category, Product, PromoCode
from bot.dao.paging import Page
from bot.i18n import _
from bot.keyboards.callbacks import (
    Admin,
    AdminAction,
    AdminCategory,
    AdminProduct,
    AdminProducts,
    AdminPromo,
    AdminPromos,
    AdminPurchase,
    CategoryAction,
    FormAction,
    PickCategory,
    PickKind,
    ProductAction,
    ProductForm,
    PurchaseAction,
)
from bot.keyboards.common import add_pager, button, home_button
from bot.shop.money import format_amount


def _panel_button() -> list[InlineKeyboardButton]:
    return [button(_("⬅️ Admin panel"), Admin(action=AdminAction.PANEL))]


def admin_panel() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(button(_("📊 Statistics"), Admin(action=AdminAction.STATS)))
    builder.row(button(_("➕ Add product"), Admin(action=AdminAction.ADD_PRODUCT)))
    builder.row(button(_("📦 Products"), AdminProducts(page=0)))
    builder.row(button(_("🗂 Categories"), Admin(action=AdminAction.CATEGORIES)))
    builder.row(button(_("🏷 Promo codes"), AdminPromos(page=0)))
    builder.row(button(_("📣 Broadcast"), Admin(action=AdminAction.BROADCAST)))
    builder.row(home_button())
    return builder.as_markup()


def back_to_panel() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[_panel_button()])


def promo_codes_keyboard(page: Page[PromoCode]) -> InlineKeyboardMarkup:
    """A switch per code of the page."""
    builder = InlineKeyboardBuilder()
    for code in page.items:
        label = (_("⚪️ Switch {code} off") if code.active else _("🟢 Switch {code} on")).format(
            code=code.code
        )
        builder.row(
            button(label, AdminPromo(code_id=code.id, active=not code.active, page=page.number))
        )
    add_pager(builder, page, lambda number: AdminPromos(page=number))
    builder.row(*_panel_button())
    return builder.as_markup()


def products_keyboard(page: Page[Product]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for product in page.items:
        mark = "🟢" if product.on_sale else "⚪️"
        label = f"{mark} {product.name} — {format_amount(product.price, product.currency)}"
        builder.row(button(label, AdminProduct(action=ProductAction.VIEW, product_id=product.id)))
    add_pager(builder, page, lambda number: AdminProducts(page=number))
    builder.row(*_panel_button())
    return builder.as_markup()


def product_keyboard(product: Product) -> InlineKeyboardMarkup:
    toggle = _("🙈 Hide") if product.on_sale else _("👁 Put on sale")
    builder = InlineKeyboardBuilder()
    if product.kind == KIND_STOCK:
        builder.row(
            button(
                _("➕ Add units"),
                AdminProduct(action=ProductAction.ADD_UNITS, product_id=product.id),
            ),
            button(
                _("🧹 Remove unsold"),
                AdminProduct(action=ProductAction.REMOVE_UNSOLD, product_id=product.id),
            ),
        )
    builder.row(
        button(toggle, AdminProduct(action=ProductAction.TOGGLE, product_id=product.id)),
        button(_("🗑 Delete"), AdminProduct(action=ProductAction.DELETE, product_id=product.id)),
    )
    builder.row(
        button(_("🖼 Photo"), AdminProduct(action=ProductAction.PHOTO, product_id=product.id))
    )
    builder.row(button(_("⬅️ Products"), AdminProducts(page=0)))
    return builder.as_markup()


def categories_keyboard(categories: Sequence[tuple[Category, int]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category, products in categories:
        data = AdminCategory(action=CategoryAction.VIEW, category_id=category.id)
        builder.row(button(f"{category.name} ({products})", data))
    builder.row(button(_("➕ Add category"), Admin(action=AdminAction.ADD_CATEGORY)))
    builder.row(*_panel_button())
    return builder.as_markup()


def category_keyboard(category: Category) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(
        button(_("✏️ Rename"), AdminCategory(action=CategoryAction.RENAME, category_id=category.id)),
        button(_("🗑 Delete"), AdminCategory(action=CategoryAction.DELETE, category_id=category.id)),
    )
    builder.row(
        button(_("🖼 Photo"), AdminCategory(action=CategoryAction.PHOTO, category_id=category.id))
    )
    builder.row(button(_("⬅️ Categories"), Admin(action=AdminAction.CATEGORIES)))
    return builder.as_markup()


def pick_category_keyboard(categories: Sequence[tuple[Category, int]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category, _products in categories:
        builder.row(button(category.name, PickCategory(category_id=category.id)))
    return builder.as_markup()


def pick_kind_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(button(_("📦 Stock product"), PickKind(stock=True)))
    return builder.as_markup()


def confirm_product_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(
        button(_("✅ Save"), ProductForm(action=FormAction.SAVE)),
        button(_("✖️ Cancel"), ProductForm(action=FormAction.CANCEL)),
    )
    return builder.as_markup()


def purchase_keyboard(purchase_id: int, *, refundable: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if refundable:
        refund = AdminPurchase(action=PurchaseAction.REFUND, purchase_id=purchase_id)
        builder.row(button(_("↩️ Refund"), refund))
    builder.row(*_panel_button())
    return builder.as_markup()


def refund_confirmation(purchase_id: int) -> InlineKeyboardMarkup:
    confirm = AdminPurchase(action=PurchaseAction.CONFIRM_REFUND, purchase_id=purchase_id)
    back = AdminPurchase(action=PurchaseAction.VIEW, purchase_id=purchase_id)
    builder = InlineKeyboardBuilder()
    builder.row(button(_("✅ Yes, refund"), confirm), button(_("⬅️ Back"), back))
    return builder.as_markup()
