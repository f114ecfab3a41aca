"""Buying: the invoice, the pre-checkout check, and the successful payment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from functools import partial
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
from bot.dao.models import OUTBOX_GOODS, OUTBOX_TEXT, Product
from bot.dao.outbox import NewMessage, Outgoing
from bot.errors import ConfigError
from bot.handlers.ui import load_or_stale
from bot.i18n import _, __
from bot.i18n.users import default_language, speaking
from bot.keyboards.callbacks import Buy
from bot.keyboards.gateways import pay_options_keyboard
from bot.payments.delivery import notify_admins
from bot.shop import Shop
from bot.shop.checkout import Checkout, review_checkout
from bot.shop.customers import Customer
from bot.shop.gateways import gateways_for
from bot.shop.intake import (
    REPLAY_INTERVAL,
    IntakeOutcome,
    Journaled,
    OutboxWriter,
    PaymentIntake,
    ShopTransactions,
    Unsaved,
)
from bot.shop.invoices import invoice_for, payable, unpayable_reason
from bot.shop.money import STARS, format_amount
from bot.shop.purchases import (
    Duplicate,
    Payment,
    PaymentOutcome,
    Receipt,
    Recorded,
    SoldOut,
    Unmatched,
)
from bot.shop.stock import in_stock, is_stock
from bot.telegram.received import customer_of
from bot.telegram.retries import answering_by
from bot.workers.outbox import Outbox

router = Router(name="payments")

# Lines to the buyer, lazy (translated when used, in the buyer's language): str() them.
DELIVERY_FOLLOWS = __(
    "Your payment arrived. The shop is busy right now: your purchase will be delivered "
    "here automatically, so there is nothing you need to do."
)
UNMATCHED = __(
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
    if is_stock(product) and not (await in_stock(shop, [product]))[product.id]:
        await callback.answer(
            _("Sorry, this product is sold out; please look again later."), show_alert=True
        )
        return
    gateways = gateways_for(product, settings)
    if gateways:
        await bot.send_message(
            callback.from_user.id,
            _("How would you like to pay for <b>{name}</b> ({price})?").format(
                name=escape(product.name), price=format_amount(product.price, product.currency)
            ),
            reply_markup=pay_options_keyboard(product, gateways, payable(product, settings)),
        )
        await callback.answer()
        return
    await offer_invoice(callback, product, settings, bot)


async def offer_invoice(
    callback: CallbackQuery, product: Product, settings: Settings, bot: Bot
) -> None:
    """A Telegram invoice for the product, or an alert saying why there is none."""
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
SHOP_BUSY = __("Sorry, the shop is busy right now; please try again in a moment.")


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
        return str(SHOP_BUSY)


def _buyer(customer: Customer) -> str:
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    handle = f" @{customer.username}" if customer.username else ""
    user_id = customer.telegram_id
    link = f'<a href="tg://user?id={user_id}">{escape(name or str(user_id))}</a>'
    return f"{link}{handle} (id {user_id})"


UNSAVED = __(
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
    message: Message,
    settings: Settings,
    bot: Bot,
    payments: PaymentIntake,
    outbox: Outbox,
    event_update: Update,
) -> None:
    await take_payment(message, event_update.update_id, bot, settings, payments, outbox)


async def payment_without_storage(
    event: ErrorEvent, settings: Settings, bot: Bot, payments: PaymentIntake, outbox: Outbox
) -> None:
    """An error handler for a payment that met the FSM storage (Redis) down before any
    handler ran: a payment needs no form state, so it is taken all the same."""
    logger.warning(
        "update {} (a payment) met the form storage down ({}); taking the payment anyway",
        event.update.update_id,
        type(event.exception).__name__,
    )
    update = event.update
    await take_payment(update.message, update.update_id, bot, settings, payments, outbox)


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
        await _tell(bot, chat_id, str(DELIVERY_FOLLOWS))
        return
    if isinstance(outcome, Unsaved):  # the database is what failed: no admin's language known
        with speaking(default_language()):
            notice = _unsaved_notice(receipt)
        await notify_admins(bot, settings.admin_ids, notice)
        await _tell(bot, chat_id, str(UNSAVED))
        return
    if isinstance(outcome.outcome, SoldOut):
        await _refund_sold_out(bot, settings, outbox, receipt, outcome.outcome)
    await payments.delivered(receipt)
    await outbox.send_now(bot, outcome.outgoing)


def payment_outbox(outbox: Outbox, admin_ids: Iterable[int]) -> OutboxWriter:
    """What a recorded payment sends, written in its transaction: the goods and the admins'
    sale notice; the buyer's and the admins' line about a payment naming no product. A
    payment recorded before sends its goods only if it never had them in the outbox (one
    taken by an older release); a sold-out one sends after its refund (`conclude`). Each
    admin's notice is composed in that admin's language (`_in_languages_of`)."""
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
            messages += await _in_languages_of(
                shop, admins, lambda: _sale_notice(receipt, recorded), recorded.purchase_id
            )
        if isinstance(outcome, Unmatched):
            messages += await _in_languages_of(shop, [chat_id], lambda: str(UNMATCHED))
            messages += await _in_languages_of(shop, admins, lambda: _unmatched_notice(receipt))
        return await outbox.write(shop, messages)

    return write


async def _in_languages_of(
    shop: Shop, chat_ids: Iterable[int], compose: Callable[[], str], purchase_id: int | None = None
) -> list[NewMessage]:
    """A text message to each chat, composed in that chat's language (DEFAULT_LANGUAGE for
    an admin who never wrote to the bot)."""
    chats = list(chat_ids)
    languages = await shop.users.languages_of(chats)
    messages = []
    for chat_id in chats:
        with speaking(languages.get(chat_id, default_language())):
            text = compose()
        messages.append(NewMessage(OUTBOX_TEXT, chat_id, purchase_id=purchase_id, text=text))
    return messages


def _sale_notice(receipt: Receipt, recorded: Recorded) -> str:
    payment = receipt.payment
    return _("💰 New purchase #{id}: <b>{name}</b> for {paid} by {buyer}.").format(
        id=recorded.purchase_id,
        name=escape(recorded.goods.name),
        paid=format_amount(payment.amount, payment.currency),
        buyer=_buyer(receipt.payer),
    )


def _unmatched_notice(receipt: Receipt) -> str:
    return _notice(
        receipt,
        _(
            "⚠️ Payment <code>{charge}</code> of {paid} by {buyer} names no known product: "
            "refund it or deliver it by hand."
        ),
    )


def _unsaved_notice(receipt: Receipt) -> str:
    return _notice(
        receipt,
        _(
            "⚠️ Payment <code>{charge}</code> of {paid} by {buyer} could not be recorded "
            "(database and journal both failed): deliver it by hand."
        ),
    )


def _sold_out_notice(receipt: Receipt, product_name: str, refunded: bool) -> str:
    if refunded:
        template = _(
            "⚠️ Payment <code>{charge}</code> of {paid} by {buyer} for <b>{name}</b> found "
            "the stock empty: it was refunded."
        )
    else:
        template = _(
            "⚠️ Payment <code>{charge}</code> of {paid} by {buyer} for <b>{name}</b> found "
            "the stock empty: refund it by hand."
        )
    return _notice(receipt, template, name=escape(product_name))


def _notice(receipt: Receipt, template: str, **more: str) -> str:
    """A translated notice about a payment: `template` names its {charge}, {paid} and {buyer}."""
    payment = receipt.payment
    return template.format(
        charge=escape(payment.charge_id),
        paid=format_amount(payment.amount, payment.currency),
        buyer=_buyer(receipt.payer),
        **more,
    )


async def _tell(bot: Bot, chat_id: int, text: str) -> None:
    """A line to the buyer that must not stop what follows if Telegram refuses it."""
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as error:
        logger.warning("could not tell buyer {}: {}", chat_id, error)


async def _refund_sold_out(
    bot: Bot, settings: Settings, outbox: Outbox, receipt: Receipt, outcome: SoldOut
) -> None:
    """Stars go back at once (refundStarPayment); a provider payment is left to the admins,
    who are told either way (through the outbox)."""
    refunded = receipt.payment.currency == STARS and await _refund_stars(bot, receipt)
    name = outcome.product_name

    async def messages(shop: Shop) -> list[NewMessage]:
        buyer = [receipt.payer.telegram_id]
        line = await _in_languages_of(shop, buyer, partial(_sold_out_line, receipt, name, refunded))
        notice = partial(_sold_out_notice, receipt, name, refunded)
        return line + await _in_languages_of(shop, settings.admin_ids, notice)

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


def _sold_out_line(receipt: Receipt, product_name: str, refunded: bool) -> str:
    """The buyer's line about a payment that found the stock empty."""
    name = escape(product_name)
    if refunded:
        payment = receipt.payment
        paid = format_amount(payment.amount, payment.currency)
        return _(
            "Sorry, the last unit of <b>{name}</b> was sold while you were paying: "
            "your {paid} have been refunded."
        ).format(name=name, paid=paid)
    return _(
        "Sorry, the last unit of <b>{name}</b> was sold while you were paying: the shop's "
        "admins have been told and will refund you."
    ).format(name=name)


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
    bot: Bot, settings: Settings, payments: PaymentIntake, outbox: Outbox, dispatcher: Dispatcher
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
    await replay(bot, settings, payments, outbox, compact=True)
    dispatcher["payment_replay"] = asyncio.create_task(
        _replay_every(REPLAY_INTERVAL, bot, settings, payments, outbox)
    )


async def _replay_every(
    interval: float, bot: Bot, settings: Settings, payments: PaymentIntake, outbox: Outbox
) -> None:
    while True:
        await asyncio.sleep(interval)
        await replay(bot, settings, payments, outbox, compact=False)


async def replay(
    bot: Bot, settings: Settings, payments: PaymentIntake, outbox: Outbox, *, compact: bool
) -> None:
    """Record (if need be) and deliver every journaled payment not yet delivered, each on
    its own: one that fails stays in the journal for the next replay."""
    for item in await payments.pending(compact=compact):
        receipt = item.receipt
        logger.warning("delivering the journaled {}", receipt.describe())
        try:
            async with payments.handling(receipt):
                outcome = await payments.record(receipt)
                if not isinstance(outcome, Journaled):
                    await conclude(bot, settings, payments, outbox, receipt, outcome)
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
