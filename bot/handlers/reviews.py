"""Reviews: ⭐ on a delivered purchase → the stars → a few words or Skip; a product's reviews
page; the goods the outbox delivers, with ⭐ under them."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.dao.outbox import Outgoing
from bot.dao.reviews import Reviewable
from bot.handlers.catalog import rating_line
from bot.handlers.ui import show, stale
from bot.i18n import _
from bot.i18n.formats import moment
from bot.keyboards.callbacks import ProductReviews, RatePurchase, SkipReviewText
from bot.keyboards.common import page_caption
from bot.keyboards.reviews import (
    rate_keyboard,
    review_saved_keyboard,
    review_text_keyboard,
    reviews_page_keyboard,
    stars_keyboard,
)
from bot.payments.delivery import goods_delivery
from bot.shop import Shop
from bot.shop.reviews import REVIEW_TEXT_MAX, review_text, stars, write
from bot.telegram.outgoing import Part

router = Router(name="reviews")

# Three reviews of at most 1000 characters each stay within a message's 4096.
REVIEWS_PER_PAGE = 3


class ReviewForm(StatesGroup):
    text = State()  # the stars are chosen; waiting for words or Skip


async def _reviewable(callback: CallbackQuery, shop: Shop, purchase_id: int) -> Reviewable | None:
    found = await shop.reviews.reviewable(callback.from_user.id, purchase_id)
    if found is None:
        await callback.answer(_("Only a purchase delivered to you can be rated."))
    return found


@router.callback_query(RatePurchase.filter(F.stars == 0))
async def choose_stars(callback: CallbackQuery, callback_data: RatePurchase, shop: Shop) -> None:
    purchase = await _reviewable(callback, shop, callback_data.purchase_id)
    if purchase is None:
        return
    lines = [_("⭐ How do you rate <b>{name}</b>?").format(name=escape(purchase.product_name))]
    if purchase.rating is not None:
        lines += ["", _("Your review now: {stars}").format(stars=stars(purchase.rating))]
        if purchase.text:
            lines.append(escape(purchase.text))
    text, markup = "\n".join(lines), stars_keyboard(purchase.purchase_id)
    if callback_data.reply and callback.message is not None:
        await callback.message.answer(text, reply_markup=markup)  # the goods stay as they are
        await callback.answer()
    else:
        await show(callback, text, markup)


@router.callback_query(RatePurchase.filter(F.stars > 0))
async def ask_words(
    callback: CallbackQuery, callback_data: RatePurchase, shop: Shop, state: FSMContext
) -> None:
    purchase = await _reviewable(callback, shop, callback_data.purchase_id)
    if purchase is None:
        return
    # The data first: a message can only reach `take_words` once the state is set.
    await state.set_data({"purchase_id": purchase.purchase_id, "rating": callback_data.stars})
    await state.set_state(ReviewForm.text)
    if purchase.text:
        ask = _("Send new words about it (up to {max} characters), or Skip to keep yours.")
    else:
        ask = _("Send a few words about it (up to {max} characters), or Skip.")
    lines = [
        f"{stars(callback_data.stars)} <b>{escape(purchase.product_name)}</b>",
        "",
        ask.format(max=REVIEW_TEXT_MAX),
    ]
    await show(callback, "\n".join(lines), review_text_keyboard(purchase.purchase_id))


@router.message(ReviewForm.text)
async def take_words(message: Message, shop: Shop, state: FSMContext, settings: Settings) -> None:
    try:
        words = review_text(message.text)
    except ValueError as error:
        await message.answer(str(error))
        return
    data = await state.get_data()
    await state.clear()
    if message.from_user is None:
        return
    text, markup = await _save(
        shop, settings, message.from_user.id, int(data["purchase_id"]), int(data["rating"]), words
    )
    await message.answer(text, reply_markup=markup)


@router.callback_query(SkipReviewText.filter())
async def skip_words(
    callback: CallbackQuery,
    callback_data: SkipReviewText,
    shop: Shop,
    state: FSMContext,
    settings: Settings,
) -> None:
    data = await state.get_data()
    if data.get("purchase_id") != callback_data.purchase_id:
        await _answer_saved_or_stale(callback, shop, callback_data.purchase_id)
        return
    await state.clear()
    buyer_id = callback.from_user.id
    text, markup = await _save(
        shop, settings, buyer_id, callback_data.purchase_id, int(data["rating"]), None
    )
    await show(callback, text, markup)


async def _answer_saved_or_stale(callback: CallbackQuery, shop: Shop, purchase_id: int) -> None:
    """Skip pressed with no stars waiting: a second tap after the review was saved, or a
    button from an earlier round."""
    purchase = await shop.reviews.reviewable(callback.from_user.id, purchase_id)
    if purchase is not None and purchase.rating is not None:
        await callback.answer(_("Your review is saved already."))
    else:
        await stale(callback)


async def _save(
    shop: Shop, settings: Settings, buyer_id: int, purchase_id: int, rating: int, words: str | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    purchase = await write(shop, buyer_id, purchase_id, rating, words, settings.admin_ids)
    if purchase is None:
        return _("This purchase can no longer be rated."), None
    saved = _("Thank you! Your review of <b>{name}</b> is saved: {stars}").format(
        name=escape(purchase.product_name), stars=stars(rating)
    )
    return saved, review_saved_keyboard(purchase.product_id, purchase.product_name)


@router.callback_query(ProductReviews.filter())
async def reviews_page(
    callback: CallbackQuery, callback_data: ProductReviews, shop: Shop, settings: Settings
) -> None:
    """A page of a product's reviews; an admin also gets 🙈 for each (its notice may be long
    gone), and sees each one's number."""
    product = await shop.products.card(callback_data.product_id)
    if product is None:
        await stale(callback)
        return
    page = await shop.reviews.page_of(product.id, callback_data.page, REVIEWS_PER_PAGE)
    if not page.items:
        await stale(callback)
        return
    lines = [_("💬 <b>Reviews of {name}</b>").format(name=escape(product.name))]
    if product.reviews.count:  # read with the card
        lines.append(rating_line(product.reviews))
    admin = callback.from_user.id in settings.admin_ids
    for review in page.items:
        number = f" · #{review.id}" if admin else ""
        lines += ["", f"{stars(review.rating)} · {moment(review.written_at)}{number}"]
        if review.text:
            lines.append(escape(review.text))
    markup = reviews_page_keyboard(product.id, page, callback_data.card_page, moderated=admin)
    await show(callback, "\n".join(lines) + page_caption(page), markup)


async def goods_to_rate(shop: Shop, row: Outgoing) -> list[Part] | None:
    """The outbox's goods row, with ⭐ under the goods."""
    markup = rate_keyboard(row.purchase_id) if row.purchase_id is not None else None
    return await goods_delivery(shop, row, markup)
