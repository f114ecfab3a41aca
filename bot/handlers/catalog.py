"""Catalog: categories → a page of a category's products → a product card."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.config import Settings
from bot.dao.catalog import ShownProduct
from bot.dao.reviews import ReviewSummary
from bot.handlers.ui import load_or_stale, show, stale
from bot.i18n import _, ngettext
from bot.i18n.formats import number
from bot.keyboards.callbacks import CategoryPage, Menu, MenuAction, ProductCard
from bot.keyboards.catalog import categories_keyboard, product_keyboard, products_keyboard
from bot.keyboards.common import page_caption
from bot.keyboards.menu import back_home
from bot.shop import Shop
from bot.shop.money import format_amount
from bot.shop.promo_codes import PromoPrice
from bot.shop.stock import in_stock, stock_label

router = Router(name="catalog")


@router.callback_query(Menu.filter(F.action == MenuAction.CATALOG))
async def categories(callback: CallbackQuery, shop: Shop) -> None:
    listed = await shop.categories.on_sale()
    if not listed:
        await show(callback, _("🛍 The catalog is empty for now. Come back soon!"), back_home())
        return
    await show(callback, _("🛍 <b>Catalog</b>\n\nChoose a category:"), categories_keyboard(listed))


@router.callback_query(CategoryPage.filter())
async def products(
    callback: CallbackQuery, callback_data: CategoryPage, shop: Shop, settings: Settings
) -> None:
    page = await shop.products.page_on_sale(
        callback_data.category_id, callback_data.page, settings.catalog_page_size
    )
    if not page.items:  # the category is gone or has nothing on sale, or the page is past the end
        await stale(callback)
        return
    category = page.items[0].category
    await show(
        callback,
        f"🛍 <b>{escape(category.name)}</b>{page_caption(page)}",
        products_keyboard(category.id, page, await in_stock(shop, page.items)),
        photo=category.photo,
        heading=category.name,
    )


@router.callback_query(ProductCard.filter())
async def product_card(callback: CallbackQuery, callback_data: ProductCard, shop: Shop) -> None:
    product = await load_or_stale(callback, shop.products.card(callback_data.product_id))
    if product is None:
        return
    await show_card(callback, shop, product, callback_data.page, reviews=product.reviews)


async def show_card(
    callback: CallbackQuery,
    shop: Shop,
    product: ShownProduct,
    page: int,
    note: str = "",
    reviews: ReviewSummary | None = None,
) -> None:
    """The product's card for the customer who pressed (see `card_screen`)."""
    customer_id = callback.from_user.id
    text, markup = await card_screen(shop, product, customer_id, page, note, reviews)
    await show(callback, text, markup, photo=product.photo, heading=product.name)


async def card_screen(
    shop: Shop,
    product: ShownProduct,
    customer_id: int,
    page: int,
    note: str = "",
    reviews: ReviewSummary | None = None,
    promo: PromoPrice | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The product's card for this customer: `page`, the category page Back returns to;
    `note`, a line above it; `reviews`, its summary if read with it; `promo`, its price with a
    promo code. A sold-out stock product offers waiting for its restock instead of Buy."""
    lines = [f"<b>{escape(product.name)}</b>", ""]
    if product.description:
        lines += [escape(product.description), ""]
    lines.append(_("Category: {category}").format(category=escape(product.category.name)))
    lines.append(_price_line(product, promo))
    stock = await in_stock(shop, [product])
    waiting = None
    if product.id in stock:
        lines.append(_("Stock: {stock}").format(stock=stock_label(stock[product.id])))
        if not stock[product.id]:
            waiting = await shop.restock.is_subscribed(product.id, customer_id)
    if reviews is None:
        reviews = await shop.reviews.summary(product.id)
    if reviews.count:
        lines.append(rating_line(reviews))
    text = "\n".join(lines if not note else [note, "", *lines])
    codes = waiting is None and await shop.promo_codes.any_on()
    return text, product_keyboard(product, page, waiting, reviews.count, promo, codes)


def _price_line(product: ShownProduct, promo: PromoPrice | None) -> str:
    price = format_amount(product.price, product.currency)
    if promo is None:
        return _("Price: <b>{price}</b>").format(price=price)
    return _("Price: <s>{price}</s> <b>{new_price}</b> with promo code <code>{code}</code>").format(
        price=price, new_price=format_amount(promo.price, promo.currency), code=promo.code
    )


def rating_line(reviews: ReviewSummary) -> str:
    """ "⭐ 4.5 of 5 (12 reviews)": for a product with reviews shown."""
    assert reviews.average is not None
    return ngettext(
        "⭐ {average} of 5 ({count} review)", "⭐ {average} of 5 ({count} reviews)", reviews.count
    ).format(average=number(Decimal(f"{reviews.average:.1f}"), digits=1), count=reviews.count)
