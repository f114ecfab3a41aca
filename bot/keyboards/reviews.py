"""Keyboards of reviews: ⭐ on a purchase, the stars, the words, a product's reviews page and
the admins' hide/show on a review's notice."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.dao.paging import Page
from bot.dao.reviews import ShownReview
from bot.i18n import _
from bot.keyboards.callbacks import (
    AdminReview,
    Menu,
    MenuAction,
    ProductCard,
    ProductReviews,
    RatePurchase,
    SkipReviewText,
)
from bot.keyboards.common import add_pager, button
from bot.shop.reviews import RATING_MAX, RATING_MIN


def rate_button(purchase_id: int, *, reply: bool = False) -> InlineKeyboardButton:
    return button(_("⭐ Rate"), RatePurchase(purchase_id=purchase_id, reply=reply))


def rate_keyboard(purchase_id: int) -> InlineKeyboardMarkup:
    """Under the goods delivered: the stars come in a message of their own."""
    return InlineKeyboardMarkup(inline_keyboard=[[rate_button(purchase_id, reply=True)]])


def _purchases_button() -> InlineKeyboardButton:
    return button(_("🧾 My purchases"), Menu(action=MenuAction.PURCHASES))


def stars_keyboard(purchase_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(
        *(
            button(f"{stars}⭐", RatePurchase(purchase_id=purchase_id, stars=stars))
            for stars in range(RATING_MIN, RATING_MAX + 1)
        )
    )
    builder.row(_purchases_button())
    return builder.as_markup()


def review_text_keyboard(purchase_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(button(_("⏭ Skip"), SkipReviewText(purchase_id=purchase_id)))
    return builder.as_markup()


def review_saved_keyboard(product_id: int, product_name: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(button(f"🛍 {product_name}", ProductCard(product_id=product_id)))
    builder.row(_purchases_button())
    return builder.as_markup()


def reviews_page_keyboard(
    product_id: int, page: Page[ShownReview], card_page: int, *, moderated: bool = False
) -> InlineKeyboardMarkup:
    """`moderated`: for an admin, 🙈 for each review on the page."""
    builder = InlineKeyboardBuilder()
    if moderated:
        for review in page.items:
            label = _("🙈 Hide #{number}").format(number=review.id)
            builder.row(button(label, AdminReview(review_id=review.id, hide=True)))
    add_pager(
        builder,
        page,
        lambda number: ProductReviews(product_id=product_id, page=number, card_page=card_page),
    )
    builder.row(button(_("⬅️ Back"), ProductCard(product_id=product_id, page=card_page)))
    return builder.as_markup()


def review_notice_keyboard(review_id: int, *, hidden: bool) -> InlineKeyboardMarkup:
    label = _("👁 Show it again") if hidden else _("🙈 Hide it")
    builder = InlineKeyboardBuilder()
    builder.row(button(label, AdminReview(review_id=review_id, hide=not hidden)))
    return builder.as_markup()
