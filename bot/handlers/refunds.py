"""Telegram's `refunded_payment` service messages: the purchase of that charge is marked
refunded (once; a repeat, or a refund an admin made through the bot, changes nothing)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message, RefundedPayment
from loguru import logger

from bot.shop import Shop
from bot.shop.refunds import mark_charge_refunded

router = Router(name="refunds")


@router.message(F.refunded_payment.as_("refund"))
async def refunded_payment(message: Message, refund: RefundedPayment, shop: Shop) -> None:
    purchase_id = await mark_charge_refunded(shop, refund.telegram_payment_charge_id)
    if purchase_id is None:
        logger.info(
            "refunded payment {} names no purchase still kept", refund.telegram_payment_charge_id
        )
        return
    logger.warning(
        "purchase #{} marked refunded (charge {})", purchase_id, refund.telegram_payment_charge_id
    )
