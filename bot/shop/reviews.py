"""Reviews: a buyer rates what they received, once per purchase, and may change it later;
the admins are told of each new one and may hide it.

Who may review is decided by the database at the moment of writing (`ReviewDAO.reviewable`):
the purchase's buyer, while it is not refunded, once its goods have left the outbox. A button
forged with another purchase's id, or pressed after a refund, writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bot.dao.models import OUTBOX_REVIEW, RATING_MAX, RATING_MIN, REVIEW_TEXT_MAX
from bot.dao.outbox import NewMessage
from bot.dao.reviews import Reviewable
from bot.i18n import _, ngettext
from bot.shop.services import Shop

__all__ = [
    "RATING_MAX",
    "RATING_MIN",
    "REVIEW_TEXT_MAX",
    "review_text",
    "set_hidden",
    "stars",
    "write",
]


def review_text(text: str | None) -> str:
    """The buyer's words, stripped; ValueError with what to do instead."""
    if text is None:
        raise ValueError(_("Please send your review as a text message, or press Skip."))
    value = text.strip()
    if not value:
        raise ValueError(_("The review cannot be empty: send a few words, or press Skip."))
    if len(value) > REVIEW_TEXT_MAX:
        raise ValueError(
            ngettext(
                "The review is too long: {count} character, at most {max_length}. "
                "Please send a shorter one.",
                "The review is too long: {count} characters, at most {max_length}. "
                "Please send a shorter one.",
                len(value),
            ).format(count=len(value), max_length=REVIEW_TEXT_MAX)
        )
    return value


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (RATING_MAX - rating)


async def write(
    shop: Shop,
    telegram_id: int,
    purchase_id: int,
    rating: int,
    text: str | None,
    admin_ids: Iterable[int],
) -> Reviewable | None:
    """Write this buyer's review of the purchase (`text` None keeps its words); a new one is
    told to every admin through the outbox, in the same transaction. The purchase reviewed,
    or None when it may not be (not theirs, refunded, not delivered yet, or unknown)."""
    if not RATING_MIN <= rating <= RATING_MAX:
        return None
    reviewable = await shop.reviews.reviewable(telegram_id, purchase_id)
    if reviewable is None:
        return None
    review_id = await shop.reviews.save(purchase_id, reviewable.product_id, rating, text)
    if review_id is None:
        return reviewable
    notices = [
        NewMessage(OUTBOX_REVIEW, admin_id, purchase_id=purchase_id)
        for admin_id in sorted(admin_ids)
    ]
    await shop.outbox.add(notices, datetime.now(UTC))
    return reviewable


async def set_hidden(shop: Shop, review_id: int, hidden: bool) -> bool:
    """Hide the review or show it again; False if there is no such review."""
    return await shop.reviews.set_hidden(review_id, datetime.now(UTC) if hidden else None)
