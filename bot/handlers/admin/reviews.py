"""A new review, told to the admins by the outbox, with 🙈/👁 to hide it or show it again."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.dao.models import Review
from bot.dao.outbox import Outgoing
from bot.handlers.ui import show, stale
from bot.i18n import _
from bot.keyboards.callbacks import AdminReview
from bot.keyboards.reviews import review_notice_keyboard
from bot.payments.notices import buyer_link
from bot.shop import Shop
from bot.shop.customers import Customer
from bot.shop.reviews import set_hidden, stars
from bot.telegram.outgoing import Part

router = Router(name="admin-reviews")


def _notice(review: Review) -> str:
    purchase = review.purchase
    lines = [
        _("⭐ New review of <b>{name}</b> (purchase #{id}) by {buyer}:").format(
            name=escape(purchase.product.name),
            id=purchase.id,
            buyer=buyer_link(Customer.of(purchase.user)),
        ),
        stars(review.rating),
    ]
    if review.text:
        lines.append(escape(review.text))
    if review.hidden_at is not None:
        lines += ["", _("🙈 Hidden: the shop does not show it.")]
    return "\n".join(lines)


async def review_notice(shop: Shop, row: Outgoing) -> list[Part] | None:
    """The outbox's review row: the review as it is when sent; None if it is gone."""
    review = await shop.reviews.of_purchase(row.purchase_id) if row.purchase_id else None
    if review is None:
        return None
    markup = review_notice_keyboard(review.id, hidden=review.hidden_at is not None)
    return [Part(_notice(review), markup=markup)]


@router.callback_query(AdminReview.filter())
async def hide_or_show(callback: CallbackQuery, callback_data: AdminReview, shop: Shop) -> None:
    if not await set_hidden(shop, callback_data.review_id, callback_data.hide):
        await stale(callback)
        return
    review = await shop.reviews.get(callback_data.review_id)
    assert review is not None  # set_hidden has just found it, in this transaction
    markup = review_notice_keyboard(review.id, hidden=review.hidden_at is not None)
    await show(callback, _notice(review), markup)
