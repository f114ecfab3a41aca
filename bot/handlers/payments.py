"""Buying: the invoice, the pre-checkout check, and the successful payment."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    CallbackQuery,
    ErrorEvent,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
    Update,
)
from loguru import logger

from bot.config import Settings
from bot.handlers.customers import customer_of
from bot.handlers.delivery import deliver, notify_admins
from bot.handlers.ui import load_or_stale
from bot.keyboards.callbacks import Buy
from bot.shop import Shop
from bot.shop.checkout import Checkout, review_checkout
from bot.shop.customers import Customer
from bot.shop.intake import Journaled, PaymentIntake
from bot.shop.invoices import invoice_for, unpayable_reason
from bot.shop.money import STARS, format_amount
from bot.shop.payments import Duplicate, Payment, PaymentOutcome, Receipt, SoldOut, Unmatched
from bot.shop.stock import in_stock, is_stock

router = Router(name="payments")

DELIVERY_FOLLOWS = (
    "Your payment arrived. The shop is busy right now: your purchase will be delivered "
    "here automatically, so there is nothing you need to do."
)
UNMATCHED = (
    "Your payment arrived but we could not match it to a product. "
    "The shop's admins have been told and will sort it out."
)
SOLD_OUT_BUY = "Sorry, this product is sold out; please look again later."
REFUNDED = (
    "Sorry, the last unit of {name} was sold while you were paying: your {paid} have been refunded."
)
REFUND_FOLLOWS = (
    "Sorry, the last unit of {name} was sold while you were paying: the shop's admins have "
    "been told and will refund you."
)


@router.callback_query(Buy.filter())
async def buy(
    callback: CallbackQuery, callback_data: Buy, shop: Shop, settings: Settings, bot: Bot
) -> None:
    product = await load_or_stale(callback, shop.products.on_sale(callback_data.product_id))
    if product is None:
        return
    if is_stock(product) and not (await in_stock(shop, [product]))[product.id]:
        await callback.answer(SOLD_OUT_BUY, show_alert=True)
        return
    invoice = invoice_for(product, callback.from_user.id, settings)
    if invoice is None:
        await callback.answer(unpayable_reason(product, settings), show_alert=True)
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


def _buyer(customer: Customer) -> str:
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    handle = f" @{customer.username}" if customer.username else ""
    user_id = customer.telegram_id
    link = f'<a href="tg://user?id={user_id}">{escape(name or str(user_id))}</a>'
    return f"{link}{handle} (id {user_id})"


@router.message(F.successful_payment)
async def successful_payment(
    message: Message, settings: Settings, bot: Bot, payments: PaymentIntake, event_update: Update
) -> None:
    await take_payment(message, event_update.update_id, bot, settings, payments)


async def payment_without_storage(
    event: ErrorEvent, settings: Settings, bot: Bot, payments: PaymentIntake
) -> None:
    """An error handler for a payment that met the FSM storage (Redis) down before any
    handler ran: a payment needs no form state, so it is taken all the same."""
    message = event.update.message
    assert message is not None  # the handler's filter: a message with a successful payment
    logger.warning(
        "update {} (a payment) met the form storage down ({}); taking the payment anyway",
        event.update.update_id,
        type(event.exception).__name__,
    )
    await take_payment(message, event.update.update_id, bot, settings, payments)


async def take_payment(
    message: Message, update_id: int, bot: Bot, settings: Settings, payments: PaymentIntake
) -> None:
    """Journal the payment, record it (retrying a busy database), then deliver it."""
    payment = message.successful_payment
    buyer = message.from_user
    if payment is None or buyer is None:
        return
    receipt = Receipt(
        update_id=update_id,
        payer=customer_of(buyer),
        payment=Payment(
            payload=payment.invoice_payload,
            amount=payment.total_amount,
            currency=payment.currency,
            charge_id=payment.telegram_payment_charge_id,
            provider_charge_id=payment.provider_payment_charge_id,
        ),
    )
    async with payments.handling(receipt):
        outcome = await payments.receive(receipt)
        if isinstance(outcome, Journaled):
            await message.answer(DELIVERY_FOLLOWS)
        else:
            await settle(bot, settings, receipt, outcome)


async def settle(bot: Bot, settings: Settings, receipt: Receipt, outcome: PaymentOutcome) -> None:
    """Tell the buyer and the admins what became of a recorded payment; deliver it once."""
    if isinstance(outcome, Duplicate):
        return
    payment = receipt.payment
    charge = escape(payment.charge_id)
    paid = format_amount(payment.amount, payment.currency)
    chat_id = receipt.payer.telegram_id
    buyer = _buyer(receipt.payer)
    if isinstance(outcome, Unmatched):
        await bot.send_message(chat_id, UNMATCHED)
        notice = f"⚠️ Payment <code>{charge}</code> of {paid} by {buyer} "
        notice += "names no known product: refund it or deliver it by hand."
        await notify_admins(bot, settings.admin_ids, notice)
        return
    if isinstance(outcome, SoldOut):
        await _refund_sold_out(bot, settings, receipt, outcome)
        return
    goods = outcome.goods
    await deliver(bot, chat_id, goods)
    notice = f"💰 New purchase #{outcome.purchase_id}: <b>{escape(goods.name)}</b> for {paid} "
    notice += f"by {buyer}."
    await notify_admins(bot, settings.admin_ids, notice)


async def _refund_sold_out(
    bot: Bot, settings: Settings, receipt: Receipt, outcome: SoldOut
) -> None:
    """Stars go back at once (refundStarPayment); a provider payment is left to the admins,
    who are told either way."""
    payment = receipt.payment
    paid = format_amount(payment.amount, payment.currency)
    chat_id = receipt.payer.telegram_id
    name = escape(outcome.product_name)
    notice = f"⚠️ Payment <code>{escape(payment.charge_id)}</code> of {paid} by "
    notice += f"{_buyer(receipt.payer)} for <b>{name}</b> found the stock empty: "
    if payment.currency == STARS and await _refund_stars(bot, receipt):
        await bot.send_message(chat_id, REFUNDED.format(name=f"<b>{name}</b>", paid=paid))
        notice += "it was refunded."
    else:
        await bot.send_message(chat_id, REFUND_FOLLOWS.format(name=f"<b>{name}</b>"))
        notice += "refund it by hand."
    await notify_admins(bot, settings.admin_ids, notice)


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


async def replay_payment_journal(bot: Bot, settings: Settings, payments: PaymentIntake) -> None:
    """Startup hook, after the migration: record and deliver the payments the journal holds
    that never reached the database (a crash, or the database down past the retry window)."""
    for receipt in await payments.pending():
        logger.warning("recording the journaled {}", receipt.describe())
        async with payments.handling(receipt):
            outcome = await payments.record(receipt)
            if not isinstance(outcome, Journaled):
                await settle(bot, settings, receipt, outcome)


async def finish_payments(settings: Settings, payments: PaymentIntake) -> None:
    """Shutdown hook: let the payments in progress finish, up to SHUTDOWN_TIMEOUT."""
    await payments.drain(settings.shutdown_timeout)
