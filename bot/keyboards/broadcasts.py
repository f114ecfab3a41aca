"""Keyboards of broadcasts: the button under a broadcast, the audiences, the confirmation and
the controls under a broadcast's progress."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.dao.broadcast_models import BROADCAST_PAUSED, BROADCAST_SENDING, Broadcast
from bot.dao.broadcasts import (
    AUDIENCE_ACTIVE,
    AUDIENCE_ALL,
    AUDIENCE_CATEGORY,
    AUDIENCE_LANGUAGE,
    AUDIENCE_NEVER_BOUGHT,
)
from bot.dao.models import Category
from bot.i18n import _
from bot.i18n.languages import LANGUAGES
from bot.keyboards.callbacks import (
    Admin,
    AdminAction,
    AdminBroadcast,
    BroadcastAction,
    BroadcastTo,
)
from bot.keyboards.common import button
from bot.shop.broadcasts import ACTIVE_DAYS


def broadcast_button(
    broadcast: Broadcast, product_link: tuple[str, str] | None
) -> InlineKeyboardMarkup | None:
    """The broadcast's one button, if any: its link, or its product's (name, deep link)."""
    if broadcast.button_url is not None and broadcast.button_text is not None:
        link = InlineKeyboardButton(text=broadcast.button_text, url=broadcast.button_url)
        return InlineKeyboardMarkup(inline_keyboard=[[link]])
    if product_link is not None:
        name, url = product_link
        card = InlineKeyboardButton(text=f"🛍 {name}", url=url)
        return InlineKeyboardMarkup(inline_keyboard=[[card]])
    return None


def audiences_keyboard(categories: Sequence[Category]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(button(_("👥 Everyone"), BroadcastTo(kind=AUDIENCE_ALL)))
    builder.row(button(_("🆕 Never bought"), BroadcastTo(kind=AUDIENCE_NEVER_BOUGHT)))
    builder.row(
        *(
            button(
                _("Active {days} d").format(days=days),
                BroadcastTo(kind=AUDIENCE_ACTIVE, value=str(days)),
            )
            for days in ACTIVE_DAYS
        )
    )
    builder.row(
        *(
            button(f"🌐 {name}", BroadcastTo(kind=AUDIENCE_LANGUAGE, value=code))
            for code, name in LANGUAGES.items()
        )
    )
    for category in categories:
        label = _("🛍 Buyers in {category}").format(category=category.name)
        builder.row(button(label, BroadcastTo(kind=AUDIENCE_CATEGORY, value=str(category.id))))
    builder.row(button(_("⬅️ Admin panel"), Admin(action=AdminAction.PANEL)))
    return builder.as_markup()


def _control(label: str, action: BroadcastAction, broadcast_id: int) -> InlineKeyboardButton:
    return button(label, AdminBroadcast(action=action, broadcast_id=broadcast_id))


def confirm_keyboard(broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _control(_("✅ Send"), BroadcastAction.SEND, broadcast_id),
                _control(_("✖️ Cancel"), BroadcastAction.CANCEL, broadcast_id),
            ]
        ]
    )


def controls_keyboard(broadcast_id: int, state: str) -> InlineKeyboardMarkup | None:
    """Pause or resume, and cancel, while it is not over."""
    if state == BROADCAST_SENDING:
        first = _control(_("⏸ Pause"), BroadcastAction.PAUSE, broadcast_id)
    elif state == BROADCAST_PAUSED:
        first = _control(_("▶️ Resume"), BroadcastAction.RESUME, broadcast_id)
    else:
        return None
    cancel = _control(_("✖️ Cancel"), BroadcastAction.CANCEL, broadcast_id)
    return InlineKeyboardMarkup(inline_keyboard=[[first, cancel]])
