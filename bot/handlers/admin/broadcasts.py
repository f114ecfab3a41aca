"""A broadcast once composed: Send (once, however often it is pressed), its progress with
pause, resume and cancel, and how its message and its report look (rendered here, sent by
bot.telegram.broadcasts)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.deep_linking import create_start_link

from bot.config import Settings
from bot.dao.broadcast_models import (
    BROADCAST_CANCELLED,
    BROADCAST_DONE,
    BROADCAST_DRAFT,
    BROADCAST_PAUSED,
    BROADCAST_SENDING,
    Broadcast,
)
from bot.dao.broadcasts import Progress
from bot.handlers.ui import show, stale
from bot.i18n import _
from bot.keyboards.broadcasts import broadcast_button, controls_keyboard
from bot.keyboards.callbacks import AdminBroadcast, BroadcastAction
from bot.shop import Shop
from bot.shop.stock import now
from bot.telegram.outgoing import Part

router = Router(name="admin-broadcasts")

# What each action may change a broadcast from, and to.
_CHANGES = {
    BroadcastAction.PAUSE: ((BROADCAST_SENDING,), BROADCAST_PAUSED),
    BroadcastAction.RESUME: ((BROADCAST_PAUSED,), BROADCAST_SENDING),
    BroadcastAction.CANCEL: (
        (BROADCAST_DRAFT, BROADCAST_SENDING, BROADCAST_PAUSED),
        BROADCAST_CANCELLED,
    ),
}


async def broadcast_message(shop: Shop, broadcast: Broadcast, bot: Bot) -> Part:
    """The message every recipient gets (and the admin's preview). A product's button is a
    link that opens its card in a message of its own (/start p<id>), leaving this one be."""
    link = None
    if broadcast.button_product_id is not None:
        product = await shop.products.get(broadcast.button_product_id)
        if product is not None:
            link = (product.name, await create_start_link(bot, f"p{product.id}"))
    return Part(
        broadcast.text,
        document=broadcast.document,
        photo=broadcast.photo,
        markup=broadcast_button(broadcast, link),
    )


def broadcast_report(
    broadcast_id: int, state: str, progress: Progress
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The admin's view of a broadcast: how far it got, and its controls while not over."""
    headings = {
        BROADCAST_SENDING: _("📣 <b>Broadcast #{id}</b> is being sent"),
        BROADCAST_PAUSED: _("⏸ <b>Broadcast #{id}</b> is paused"),
        BROADCAST_CANCELLED: _("✖️ <b>Broadcast #{id}</b> was cancelled"),
        BROADCAST_DONE: _("✅ <b>Broadcast #{id}</b> is done"),
    }
    heading = headings.get(state, headings[BROADCAST_SENDING]).format(id=broadcast_id)
    counts = _("Sent: {sent} · failed: {failed} · blocked the bot: {blocked} · left: {left}")
    text = "\n\n".join(
        (
            heading,
            counts.format(
                sent=progress.sent,
                failed=progress.failed,
                blocked=progress.blocked,
                left=progress.left,
            ),
        )
    )
    return text, controls_keyboard(broadcast_id, state)


async def _show_report(callback: CallbackQuery, shop: Shop, broadcast_id: int, state: str) -> None:
    progress = await shop.broadcasts.progress(broadcast_id)
    text, markup = broadcast_report(broadcast_id, state, progress)
    await show(callback, text, markup)


@router.callback_query(AdminBroadcast.filter(F.action == BroadcastAction.SEND))
async def send_off(
    callback: CallbackQuery,
    callback_data: AdminBroadcast,
    shop: Shop,
    settings: Settings,
    wake_broadcasts: Callable[[], None],
) -> None:
    """Queue its audience and let the worker send it: only a draft is sent off, so a second
    press (or one on another instance) finds it sent already."""
    message = callback.message
    if not isinstance(message, Message):
        await stale(callback)
        return
    total = await shop.broadcasts.send_off(
        callback_data.broadcast_id,
        now(),
        settings.default_language,
        report_chat_id=message.chat.id,
        report_message_id=message.message_id,
        paid=settings.broadcast_paid,
    )
    if total is None:
        await callback.answer(_("This broadcast was sent off already."))
        return
    text, markup = broadcast_report(
        callback_data.broadcast_id, BROADCAST_SENDING, Progress(left=total)
    )
    await show(callback, text, markup)  # committed first: the worker then finds it
    wake_broadcasts()


@router.callback_query(AdminBroadcast.filter(F.action != BroadcastAction.SEND))
async def change(
    callback: CallbackQuery,
    callback_data: AdminBroadcast,
    shop: Shop,
    wake_broadcasts: Callable[[], None],
) -> None:
    """Pause, resume or cancel; the instance sending it stops within a moment."""
    from_states, to = _CHANGES[callback_data.action]
    broadcast_id = callback_data.broadcast_id
    if not await shop.broadcasts.change_state(broadcast_id, from_states, to, now()):
        broadcast = await shop.broadcasts.get(broadcast_id)
        if broadcast is None:
            await stale(callback)
            return
        await _show_report(callback, shop, broadcast_id, broadcast.state)
        return
    await _show_report(callback, shop, broadcast_id, to)  # committed first
    if to == BROADCAST_SENDING:
        wake_broadcasts()
