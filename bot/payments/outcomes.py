"""What becomes of a payment the shop has taken, whoever reported it (Telegram, a gateway, the
journal's replay): journaled, recorded once, then the buyer and the admins told, its goods sent
through the outbox, and Stars given back for a payment that found the stock empty."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message
from loguru import logger

from bot.config import Settings
from bot.dao.models import OUTBOX_GOODS
from bot.dao.outbox import NewMessage, Outgoing
from bot.i18n import default_language, speaking
from bot.payments.delivery import notify_admins, tell_buyer
from bot.payments.notices import (
    DELIVERY_FOLLOWS,
    INVITED_THANKS,
    UNMATCHED,
    UNSAVED,
    in_languages_of,
    reward_notice,
    sale_notice,
    sold_out_line,
    sold_out_notice,
    unmatched_notice,
    unsaved_notice,
)
from bot.shop import Shop
from bot.shop.intake import IntakeOutcome, Journaled, OutboxWriter, PaymentIntake, Unsaved
from bot.shop.money import STARS
from bot.shop.purchases import Duplicate, PaymentOutcome, Receipt, Recorded, SoldOut, Unmatched
from bot.shop.referrals import reward_first_purchase
from bot.telegram.outbox import Outbox
from bot.telegram.received import receipt_of


async def take_payment(
    message: Message | None,
    update_id: int,
    bot: Bot,
    settings: Settings,
    payments: PaymentIntake,
    outbox: Outbox,
) -> None:
    """Journal the payment, record it (retrying a busy database), then send what it bought."""
    receipt = receipt_of(message, update_id)
    if receipt is None:
        return
    async with payments.handling(receipt):
        outcome = await payments.receive(receipt)
        await conclude(bot, settings, payments, outbox, receipt, outcome)


async def conclude(
    bot: Bot,
    settings: Settings,
    payments: PaymentIntake,
    outbox: Outbox,
    receipt: Receipt,
    outcome: IntakeOutcome,
) -> None:
    """Tell the buyer (and the admins) what became of a payment. A recorded one has what it
    must send in the outbox, written with the purchase: the journal may forget it, and the
    outbox sends it now (or, failing that, later, after a restart too)."""
    chat_id = receipt.payer.telegram_id
    if isinstance(outcome, Journaled):
        await tell_buyer(bot, chat_id, str(DELIVERY_FOLLOWS))
        return
    if isinstance(outcome, Unsaved):  # the database is what failed: no admin's language known
        with speaking(default_language()):
            notice = unsaved_notice(receipt)
        await notify_admins(bot, settings.admin_ids, notice)
        await tell_buyer(bot, chat_id, str(UNSAVED))
        return
    if isinstance(outcome.outcome, SoldOut):
        await _refund_sold_out(bot, settings, outbox, receipt, outcome.outcome)
    await payments.delivered(receipt)
    await outbox.send_now(bot, outcome.outgoing)


def payment_outbox(
    outbox: Outbox, admin_ids: Iterable[int], reward_percent: int = 0
) -> OutboxWriter:
    """What a recorded payment sends, written in its transaction: the goods and the admins'
    sale notice (and for an invited buyer's first purchase, the inviter's reward and a line to
    both: `reward_percent`, bot.shop.referrals); the buyer's and the admins' line about a
    payment naming no product. A
    payment recorded before sends its goods only if it never had them in the outbox (one
    taken by an older release); a sold-out one sends after its refund (`conclude`). Each
    admin's notice is composed in that admin's language (`in_languages_of`)."""
    admins = sorted(admin_ids)

    async def write(shop: Shop, receipt: Receipt, outcome: PaymentOutcome) -> list[Outgoing]:
        chat_id = receipt.payer.telegram_id
        messages: list[NewMessage] = []
        if isinstance(outcome, Recorded | Duplicate) and outcome.goods is not None:
            goods = outcome.goods
            messages.append(
                NewMessage(
                    OUTBOX_GOODS,
                    chat_id,
                    purchase_id=outcome.purchase_id,
                    product_id=goods.product_id,
                )
            )
        if isinstance(outcome, Recorded):
            recorded = outcome
            messages += await in_languages_of(
                shop, admins, lambda: sale_notice(receipt, recorded), recorded.purchase_id
            )
            reward = await reward_first_purchase(
                shop, chat_id, recorded.purchase_id, reward_percent
            )
            if reward is not None:
                inviter = [reward.inviter.telegram_id]
                told = partial(reward_notice, receipt.payer, reward)
                messages += await in_languages_of(shop, inviter, told)
                messages += await in_languages_of(shop, [chat_id], lambda: str(INVITED_THANKS))
        if isinstance(outcome, Unmatched):
            messages += await in_languages_of(shop, [chat_id], lambda: str(UNMATCHED))
            messages += await in_languages_of(shop, admins, lambda: unmatched_notice(receipt))
        return await outbox.write(shop, messages)

    return write


async def _refund_sold_out(
    bot: Bot, settings: Settings, outbox: Outbox, receipt: Receipt, outcome: SoldOut
) -> None:
    """Stars go back at once (refundStarPayment); a provider payment is left to the admins,
    who are told either way (through the outbox)."""
    refunded = receipt.payment.currency == STARS and await _refund_stars(bot, receipt)
    name = outcome.product_name

    async def messages(shop: Shop) -> list[NewMessage]:
        buyer = [receipt.payer.telegram_id]
        line = await in_languages_of(shop, buyer, partial(sold_out_line, receipt, name, refunded))
        notice = partial(sold_out_notice, receipt, name, refunded)
        return line + await in_languages_of(shop, settings.admin_ids, notice)

    try:
        await outbox.post(bot, messages)
    except Exception as error:  # the database gone since: the log has the refund
        logger.error(
            "could not tell {} of its refund through the outbox ({}: {}): {}",
            receipt.describe(),
            type(error).__name__,
            error,
            "it was refunded" if refunded else "refund it by hand",
        )


async def _refund_stars(bot: Bot, receipt: Receipt) -> bool:
    try:
        await bot.refund_star_payment(
            user_id=receipt.payer.telegram_id,
            telegram_payment_charge_id=receipt.payment.charge_id,
        )
    except TelegramAPIError as error:
        logger.error("could not refund {}: {}", receipt.describe(), error)
        return False
    logger.warning("refunded {}: no unit was left", receipt.describe())
    return True
