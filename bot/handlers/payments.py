"""Buying: the invoice, the pre-checkout check, and the successful payment."""

from __future__ import annotations

import asyncio
from html import escape

from aiogram import Bot, Dispatcher, F, Router
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
from bot.dao.failures import is_transient
from bot.errors import ConfigError
from bot.handlers.customers import customer_of
from bot.handlers.delivery import deliver, notify_admins
from bot.handlers.ui import load_or_stale
from bot.keyboards.callbacks import Buy
from bot.shop import Shop
from bot.shop.checkout import Checkout, review_checkout
from bot.shop.customers import Customer
from bot.shop.intake import (
    REPLAY_INTERVAL,
    IntakeOutcome,
    Journaled,
    PaymentIntake,
    ShopTransactions,
    Unsaved,
)
from bot.shop.invoices import invoice_for, unpayable_reason
from bot.shop.money import STARS, format_amount
from bot.shop.payments import Duplicate, Payment, PaymentOutcome, Receipt, SoldOut, Unmatched
from bot.shop.stock import in_stock, is_stock
from bot.telegram.retries import answering_by

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


# Telegram drops a pre-checkout query not answered within 10 s of asking; the answer must
# reach it within this many seconds of the update's arrival (the rest is the network's).
PRE_CHECKOUT_WINDOW = 9.0
# Of that window, the database review leaves this much for the answer and its retries.
ANSWER_RESERVE = 3.0
SHOP_BUSY = "Sorry, the shop is busy right now; please try again in a moment."


@router.pre_checkout_query()
async def pre_checkout(
    query: PreCheckoutQuery, settings: Settings, payments: PaymentIntake
) -> None:
    """Answered within PRE_CHECKOUT_WINDOW of arriving (the update's session, begun lazily,
    has not touched the database before this handler): a database too busy to review the
    checkout in time refuses it with SHOP_BUSY rather than leaving it unanswered."""
    answer_by = asyncio.get_running_loop().time() + PRE_CHECKOUT_WINDOW
    checkout = Checkout(
        payload=query.invoice_payload,
        payer_id=query.from_user.id,
        currency=query.currency,
        total_amount=query.total_amount,
    )
    refusal = await _review_before(
        answer_by - ANSWER_RESERVE, payments.transactions, checkout, settings
    )
    if refusal is not None:
        logger.info("pre-checkout {} refused: {}", query.id, refusal)
    try:
        with answering_by(answer_by):
            await query.answer(ok=refusal is None, error_message=refusal)
    except TelegramAPIError as error:  # past the window Telegram has dropped the query
        logger.warning("pre-checkout {} could not be answered in time: {}", query.id, error)


async def _review_before(
    deadline: float, transactions: ShopTransactions, checkout: Checkout, settings: Settings
) -> str | None:
    """`review_checkout` in a transaction of its own that waits for a lock or a connection
    only until `deadline` (event loop time); SHOP_BUSY when the database is not free by then.
    Its own transaction: the update's session, cut off mid-statement, could not commit
    before the answer."""
    lock_wait = deadline - asyncio.get_running_loop().time()
    try:
        async with asyncio.timeout_at(deadline), transactions(lock_wait) as shop:
            return await review_checkout(shop, checkout, settings)
    except Exception as error:
        if not is_transient(error):
            raise
        logger.warning("pre-checkout refused: the database was busy ({})", type(error).__name__)
        return SHOP_BUSY


def _buyer(customer: Customer) -> str:
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    handle = f" @{customer.username}" if customer.username else ""
    user_id = customer.telegram_id
    link = f'<a href="tg://user?id={user_id}">{escape(name or str(user_id))}</a>'
    return f"{link}{handle} (id {user_id})"


UNSAVED = (
    "Your payment arrived, but the shop could not record it right now. The shop's admins "
    "have been told and will deliver your purchase."
)


def receipt_of(message: Message | None, update_id: int) -> Receipt | None:
    """The payment a message reports, as the journal keeps it; None for any other message."""
    payment = message.successful_payment if message is not None else None
    if message is None or payment is None or message.from_user is None:
        return None
    return Receipt(
        update_id=update_id,
        payer=customer_of(message.from_user),
        payment=Payment(
            payload=payment.invoice_payload,
            amount=payment.total_amount,
            currency=payment.currency,
            charge_id=payment.telegram_payment_charge_id,
            provider_charge_id=payment.provider_payment_charge_id,
        ),
    )


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
    logger.warning(
        "update {} (a payment) met the form storage down ({}); taking the payment anyway",
        event.update.update_id,
        type(event.exception).__name__,
    )
    await take_payment(event.update.message, event.update.update_id, bot, settings, payments)


async def take_payment(
    message: Message | None,
    update_id: int,
    bot: Bot,
    settings: Settings,
    payments: PaymentIntake,
) -> None:
    """Journal the payment, record it (retrying a busy database), then deliver it."""
    receipt = receipt_of(message, update_id)
    if receipt is None:
        return
    async with payments.handling(receipt):
        await conclude(bot, settings, payments, receipt, await payments.receive(receipt))


async def conclude(
    bot: Bot,
    settings: Settings,
    payments: PaymentIntake,
    receipt: Receipt,
    outcome: IntakeOutcome,
) -> None:
    """Tell the buyer (and the admins) what became of a payment, and deliver it: at least
    once, since a recorded payment the journal does not know as delivered (a crash, a commit
    whose answer was lost) is delivered again rather than not at all."""
    chat_id = receipt.payer.telegram_id
    if isinstance(outcome, Journaled):
        await _tell(bot, chat_id, DELIVERY_FOLLOWS)
        return
    if isinstance(outcome, Unsaved):
        await notify_admins(bot, settings.admin_ids, _notice(receipt, UNSAVED_NOTICE))
        await _tell(bot, chat_id, UNSAVED)
        return
    if isinstance(outcome, Duplicate) and not await payments.undelivered(receipt):
        return
    await settle(bot, settings, receipt, outcome)
    await payments.delivered(receipt)


UNSAVED_NOTICE = "could not be recorded (database and journal both failed): deliver it by hand."


def _notice(receipt: Receipt, what: str) -> str:
    payment = receipt.payment
    paid = format_amount(payment.amount, payment.currency)
    return (
        f"⚠️ Payment <code>{escape(payment.charge_id)}</code> of {paid} by "
        f"{_buyer(receipt.payer)} {what}"
    )


async def _tell(bot: Bot, chat_id: int, text: str) -> None:
    """A line to the buyer that must not stop what follows if Telegram refuses it."""
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        logger.warning("could not tell buyer {}: {}", chat_id, error)


async def settle(bot: Bot, settings: Settings, receipt: Receipt, outcome: PaymentOutcome) -> None:
    """Deliver a recorded payment and tell the admins; or report one that cannot be."""
    payment = receipt.payment
    paid = format_amount(payment.amount, payment.currency)
    chat_id = receipt.payer.telegram_id
    if isinstance(outcome, Unmatched):
        what = "names no known product: refund it or deliver it by hand."
        await notify_admins(bot, settings.admin_ids, _notice(receipt, what))
        await _tell(bot, chat_id, UNMATCHED)
        return
    if isinstance(outcome, SoldOut):
        await _refund_sold_out(bot, settings, receipt, outcome)
        return
    if outcome.goods is None:  # recorded by a transaction still under way: it delivers
        return
    goods = outcome.goods
    await deliver(bot, chat_id, goods)
    if isinstance(outcome, Duplicate):  # delivered again: the admins heard of it the first time
        return
    notice = f"💰 New purchase #{outcome.purchase_id}: <b>{escape(goods.name)}</b> for {paid} "
    notice += f"by {_buyer(receipt.payer)}."
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


async def replay_payment_journal(
    bot: Bot, settings: Settings, payments: PaymentIntake, dispatcher: Dispatcher
) -> None:
    """Startup hook, after the migration: the journal must be writable (else exit 2); the
    payments it holds that were never delivered (a crash, the database down past the retry
    window) are recorded and delivered; then the same is done every REPLAY_INTERVAL seconds
    while the bot runs."""
    try:
        await asyncio.to_thread(payments.journal.check_writable)
    except OSError as error:
        raise ConfigError(
            f"the payment journal {payments.journal.path} cannot be written ({error}); set "
            "PAYMENTS_JOURNAL to a writable file on a persistent volume"
        ) from None
    await replay(bot, settings, payments, compact=True)
    dispatcher["payment_replay"] = asyncio.create_task(
        _replay_every(REPLAY_INTERVAL, bot, settings, payments)
    )


async def _replay_every(
    interval: float, bot: Bot, settings: Settings, payments: PaymentIntake
) -> None:
    while True:
        await asyncio.sleep(interval)
        await replay(bot, settings, payments, compact=False)


async def replay(bot: Bot, settings: Settings, payments: PaymentIntake, *, compact: bool) -> None:
    """Record (if need be) and deliver every journaled payment not yet delivered, each on
    its own: one that fails stays in the journal for the next replay."""
    for item in await payments.pending(compact=compact):
        receipt = item.receipt
        logger.warning("delivering the journaled {}", receipt.describe())
        try:
            async with payments.handling(receipt):
                outcome = await payments.record(receipt)
                if not isinstance(outcome, Journaled):
                    await conclude(bot, settings, payments, receipt, outcome)
        except Exception as error:
            logger.error(
                "could not deliver the journaled {} ({}: {}); the journal keeps it",
                receipt.describe(),
                type(error).__name__,
                " ".join(str(error).split())[:300],
            )


async def finish_payments(
    settings: Settings, payments: PaymentIntake, dispatcher: Dispatcher
) -> None:
    """Shutdown hook: no more replays; let the payments in progress finish, up to
    SHUTDOWN_TIMEOUT."""
    replaying: asyncio.Task[None] | None = dispatcher.workflow_data.get("payment_replay")
    if replaying is not None:
        replaying.cancel()
    await payments.drain(settings.shutdown_timeout)
