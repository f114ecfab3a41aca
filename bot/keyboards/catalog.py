"""Keyboards of the catalog: categories, a page of products, a product card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.dao.catalog import ShownCategory, ShownProduct
from bot.dao.models import Product
from bot.dao.paging import Page
from bot.i18n import _
from bot.keyboards.callbacks import (
    Buy,
    BuyWithCode,
    CategoryPage,
    EnterPromo,
    Menu,
    MenuAction,
    ProductCard,
    ProductReviews,
    Restock,
    SearchPage,
)
from bot.keyboards.common import add_pager, button, home_button
from bot.shop.money import format_amount
from bot.shop.promo_codes import PromoPrice
from bot.shop.stock import stock_label


def categories_keyboard(categories: Sequence[tuple[ShownCategory, int]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category, products in categories:
        builder.row(button(f"{category.name} ({products})", CategoryPage(category_id=category.id)))
    builder.row(home_button())
    return builder.as_markup()


def products_keyboard(
    category_id: int, page: Page[ShownProduct], stock: Mapping[int, int]
) -> InlineKeyboardMarkup:
    """`stock`: free units of the stock products on the page."""
    builder = InlineKeyboardBuilder()
    _add_products(builder, page, stock, page.number)
    add_pager(builder, page, lambda number: CategoryPage(category_id=category_id, page=number))
    builder.row(button(_("⬅️ Categories"), Menu(action=MenuAction.CATALOG)))
    return builder.as_markup()


def found_keyboard(page: Page[ShownProduct], stock: Mapping[int, int]) -> InlineKeyboardMarkup:
    """A page of what /search found: each product's card (whose Back goes to its category)."""
    builder = InlineKeyboardBuilder()
    _add_products(builder, page, stock, 0)
    add_pager(builder, page, lambda number: SearchPage(page=number))
    builder.row(button(_("🔎 Search again"), Menu(action=MenuAction.SEARCH)), home_button())
    return builder.as_markup()


def _add_products(
    builder: InlineKeyboardBuilder,
    page: Page[ShownProduct],
    stock: Mapping[int, int],
    back_to_page: int,
) -> None:
    """A row per product: its name, price and free units, opening its card."""
    for product in page.items:
        label = f"{product.name} — {format_amount(product.price, product.currency)}"
        if product.id in stock:
            label += f" ({stock_label(stock[product.id])})"
        builder.row(button(label, ProductCard(product_id=product.id, page=back_to_page)))


def product_keyboard(
    product: ShownProduct,
    page: int,
    waiting: bool | None = None,
    reviews: int = 0,
    promo: PromoPrice | None = None,
    codes: bool = False,
) -> InlineKeyboardMarkup:
    """`waiting`: None when the product can be bought; for a sold-out one, whether this
    customer already waits for its restock. `reviews`: how many it shows. `promo`: its price
    with a promo code, which Buy then pays. `codes`: whether to offer typing one."""
    builder = InlineKeyboardBuilder()
    if waiting is None:
        price = format_amount(promo.price if promo else product.price, product.currency)
        buy = (
            Buy(product_id=product.id)
            if promo is None
            else BuyWithCode(product_id=product.id, promo=promo.code_id)
        )
        builder.row(button(_("💳 Buy for {price}").format(price=price), buy))
        if codes:
            builder.row(button(_("🏷 Promo code"), EnterPromo(product_id=product.id, page=page)))
    else:
        label = _("🔕 Stop waiting") if waiting else _("🔔 Tell me when it is back")
        builder.row(button(label, Restock(product_id=product.id, page=page)))
    if reviews:
        label = _("💬 Reviews ({count})").format(count=reviews)
        builder.row(button(label, ProductReviews(product_id=product.id, card_page=page)))
    builder.row(button(_("⬅️ Back"), CategoryPage(category_id=product.category_id, page=page)))
    return builder.as_markup()


def restock_notice_keyboard(product: Product) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(button(f"🛍 {product.name}", ProductCard(product_id=product.id)))
    return builder.as_markup()
