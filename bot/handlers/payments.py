"""Buying: the invoice, the pre-checkout check, and the successful payment."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery, User
from loguru import logger

from bot.config import Settings
from bot.handlers.customers import customer_of
from bot.handlers.delivery import deliver, notify_admins
from bot.handlers.ui import load_or_stale
from bot.keyboards.callbacks import Buy
from bot.middlewares.database import AfterCommit
from bot.shop import Shop
from bot.shop.checkout import Checkout, review_checkout
from bot.shop.invoices import invoice_for
from bot.shop.money import format_amount
from bot.shop.payments import Duplicate, Payment, Unmatched, record_payment

router = Router(name="payments")

UNMATCHED = (
    "Your payment arrived but we could not match it to a product. "
    "The shop's admins have been told and will sort it out."
)


@router.callback_query(Buy.filter())
async def buy(
    callback: CallbackQuery, callback_data: Buy, shop: Shop, settings: Settings, bot: Bot
) -> None:
    product = await load_or_stale(callback, shop.products.on_sale(callback_data.product_id))
    if product is None:
        return
    invoice = invoice_for(product, callback.from_user.id, settings)
    if invoice is None:
        await callback.answer("Sorry, this product cannot be paid for right now.", show_alert=True)
        return
    await bot.send_invoice(
        chat_id=callback.from_user.id,
        title=invoice.title,
        description=invoice.description,
        payload=invoice.payload,
        currency=invoice.currency,
        prices=[LabeledPrice(label=invoice.title, amount=invoice.amount)],
        provider_token=invoice.provider_token,
    )
    await callback.answer()


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery, shop: Shop, settings: Settings) -> None:
    checkout = Checkout(
        payload=query.invoice_payload,
        payer_id=query.from_user.id,
        currency=query.currency,
        total_amount=query.total_amount,
    )
    refusal = await review_checkout(shop, checkout, settings)
    if refusal is None:
        await query.answer(ok=True)
        return
    logger.info("pre-checkout {} refused: {}", query.id, refusal)
    await query.answer(ok=False, error_message=refusal)


def _buyer(user: User) -> str:
    handle = f" @{user.username}" if user.username else ""
    return f'<a href="tg://user?id={user.id}">{escape(user.full_name)}</a>{handle} (id {user.id})'


@router.message(F.successful_payment)
async def successful_payment(
    message: Message, shop: Shop, settings: Settings, bot: Bot, after_commit: AfterCommit
) -> None:
    payment = message.successful_payment
    buyer = message.from_user
    if payment is None or buyer is None:
        return
    charge = payment.telegram_payment_charge_id
    outcome = await record_payment(
        shop,
        customer_of(buyer),
        Payment(
            payload=payment.invoice_payload,
            amount=payment.total_amount,
            currency=payment.currency,
            charge_id=charge,
            provider_charge_id=payment.provider_payment_charge_id,
        ),
    )
    if isinstance(outcome, Duplicate):
        return
    paid = format_amount(payment.total_amount, payment.currency)
    if isinstance(outcome, Unmatched):
        await message.answer(UNMATCHED)
        notice = f"⚠️ Payment <code>{escape(charge)}</code> of {paid} by {_buyer(buyer)} "
        notice += "names no known product: refund it or deliver it by hand."
        after_commit(lambda: notify_admins(bot, settings.admin_ids, notice))
        return
    goods = outcome.goods
    notice = f"💰 New purchase #{outcome.purchase_id}: <b>{escape(goods.name)}</b> for {paid} "
    notice += f"by {_buyer(buyer)}."
    after_commit(lambda: deliver(bot, message.chat.id, goods))
    after_commit(lambda: notify_admins(bot, settings.admin_ids, notice))
