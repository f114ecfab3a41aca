"""Looking a purchase up (`/purchase <id>`) and refunding a Stars one, after a confirmation."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from loguru import logger

from bot.dao.models import Purchase
from bot.handlers.ui import show
from bot.i18n import _, default_language, speaking
from bot.i18n.formats import moment
from bot.keyboards.admin import purchase_keyboard, refund_confirmation
from bot.keyboards.callbacks import AdminPurchase, PurchaseAction
from bot.shop import Shop
from bot.shop.money import format_amount
from bot.shop.refunds import (
    Refundable,
    Refused,
    find_refundable,
    mark_refunded,
    not_found,
    refusal_for,
)

router = Router(name="admin-purchases")

ALREADY_REFUNDED_BY_TELEGRAM = "CHARGE_ALREADY_REFUNDED"


def _card(purchase: Purchase) -> str:
    buyer = purchase.user
    name = " ".join(part for part in (buyer.first_name, buyer.last_name) if part)
    handle = f" @{buyer.username}" if buyer.username else ""
    paid = format_amount(purchase.amount, purchase.currency)
    lines = [
        _("🧾 <b>Purchase #{id}</b>").format(id=purchase.id),
        _("Product: {name}").format(name=escape(purchase.product.name)),
        _("Buyer: {name}{handle} (id {telegram_id})").format(
            name=escape(name), handle=handle, telegram_id=buyer.telegram_id
        ),
        _("Paid: {paid} on {when}").format(paid=paid, when=moment(purchase.created_at)),
        _("Charge: <code>{charge}</code>").format(charge=escape(purchase.charge_id)),
    ]
    refusal = refusal_for(purchase)
    if refusal is not None:
        lines.append(refusal)
    return "\n".join(lines)


async def _purchase_screen(shop: Shop, purchase_id: int) -> tuple[str, bool] | None:
    """The purchase's card and whether it can be refunded; None if there is no such one."""
    purchase = await shop.purchases.get(purchase_id)
    if purchase is None:
        return None
    return _card(purchase), refusal_for(purchase) is None


@router.message(Command("purchase"))
async def look_up(message: Message, command: CommandObject, shop: Shop) -> None:
    argument = (command.args or "").strip().lstrip("#")
    if not argument.isdecimal() or not 1 <= int(argument) <= 2**31 - 1:
        await message.answer(_("Send /purchase and the purchase number, e.g. /purchase 12."))
        return
    purchase_id = int(argument)
    screen = await _purchase_screen(shop, purchase_id)
    if screen is None:
        await message.answer(not_found(purchase_id))
        return
    text, refundable = screen
    await message.answer(text, reply_markup=purchase_keyboard(purchase_id, refundable=refundable))


@router.callback_query(AdminPurchase.filter(F.action == PurchaseAction.VIEW))
async def view(callback: CallbackQuery, callback_data: AdminPurchase, shop: Shop) -> None:
    purchase_id = callback_data.purchase_id
    screen = await _purchase_screen(shop, purchase_id)
    if screen is None:
        await callback.answer(not_found(purchase_id), show_alert=True)
        return
    text, refundable = screen
    await show(callback, text, purchase_keyboard(purchase_id, refundable=refundable))


@router.callback_query(AdminPurchase.filter(F.action == PurchaseAction.REFUND))
async def ask_to_confirm(callback: CallbackQuery, callback_data: AdminPurchase, shop: Shop) -> None:
    target = await find_refundable(shop, callback_data.purchase_id)
    if isinstance(target, Refused):
        await callback.answer(target.reason, show_alert=True)
        return
    question = _(
        "Refund {paid} to the buyer (id {buyer_id}) for <b>{name}</b>, purchase #{id}? Their "
        "content will no longer be delivered again; a stock unit stays sold."
    ).format(
        paid=target.paid,
        buyer_id=target.buyer_id,
        name=escape(target.product_name),
        id=target.purchase_id,
    )
    await show(callback, question, refund_confirmation(target.purchase_id))


@router.callback_query(AdminPurchase.filter(F.action == PurchaseAction.CONFIRM_REFUND))
async def refund(
    callback: CallbackQuery, callback_data: AdminPurchase, shop: Shop, bot: Bot
) -> None:
    target = await find_refundable(shop, callback_data.purchase_id)
    if isinstance(target, Refused):
        await callback.answer(target.reason, show_alert=True)
        return
    failure = await _refund_stars(bot, target)
    if failure is not None:
        await callback.answer(failure, show_alert=True)
        return
    # Telegram has the money back; the row follows in this update's transaction (and, should
    # that commit fail, Telegram's refunded_payment update marks it).
    if not await mark_refunded(shop, target.purchase_id):
        await callback.answer(
            _("Purchase #{id} was refunded meanwhile.").format(id=target.purchase_id)
        )
        return
    logger.warning(
        "admin {} refunded purchase #{} ({})",
        callback.from_user.id,
        target.purchase_id,
        target.paid,
    )
    await _tell_buyer(bot, target)
    done = _("↩️ Purchase #{id} refunded: {paid} went back to the buyer.").format(
        id=target.purchase_id, paid=target.paid
    )
    await show(callback, done, purchase_keyboard(target.purchase_id, refundable=False))


async def _refund_stars(bot: Bot, target: Refundable) -> str | None:
    """Refund through the Bot API; None once done (or done before), else what to tell the
    admin."""
    try:
        await bot.refund_star_payment(
            user_id=target.buyer_id, telegram_payment_charge_id=target.charge_id
        )
    except TelegramAPIError as error:
        if ALREADY_REFUNDED_BY_TELEGRAM in error.message:
            return None
        logger.error("could not refund purchase #{}: {}", target.purchase_id, error.message)
        return _("Telegram refused the refund ({error}): nothing changed; try again later.").format(
            error=error.message
        )
    return None


async def _tell_buyer(bot: Bot, target: Refundable) -> None:
    with speaking(target.buyer_language or default_language()):  # theirs, not the admin's
        text = _("↩️ Your payment of {paid} for <b>{name}</b> has been refunded.").format(
            paid=target.paid, name=escape(target.product_name)
        )
    try:
        await bot.send_message(target.buyer_id, text)
    except TelegramAPIError as error:
        logger.warning("could not tell buyer {} of the refund: {}", target.buyer_id, error.message)
