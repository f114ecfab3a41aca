"""Buying: the Buy button (a Telegram invoice, or a choice of gateways), the pre-checkout
check, and the successful payment, which the purchase path takes (bot.payments.outcomes)."""

from __future__ import annotations

import asyncio
from html import escape
from typing import Literal

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
from bot.dao.failures import is_transient
from bot.dao.models import Product
from bot.handlers.ui import load_or_stale
from bot.i18n import _, __
from bot.keyboards.callbacks import Buy, BuyWithCode
from bot.keyboards.gateways import pay_options_keyboard
from bot.payments.outcomes import take_payment
from bot.shop import Shop
from bot.shop.checkout import Checkout, review_checkout
from bot.shop.gateways import gateways_for
from bot.shop.intake import PaymentIntake, ShopTransactions
from bot.shop.invoices import invoice_for, payable, unpayable_reason
from bot.shop.money import format_amount
from bot.shop.promo_codes import PromoPrice, promo_price
from bot.shop.stock import in_stock, is_stock, now
from bot.telegram.outbox import Outbox
from bot.telegram.retries import answering_by

router = Router(name="payments")


@router.callback_query(Buy.filter())
@router.callback_query(BuyWithCode.filter())
async def buy(
    callback: CallbackQuery,
    callback_data: Buy | BuyWithCode,
    shop: Shop,
    settings: Settings,
    bot: Bot,
) -> None:
    product = await load_or_stale(callback, shop.products.on_sale(callback_data.product_id))
    if product is None:
        return
    if is_stock(product) and not (await in_stock(shop, [product]))[product.id]:
        await callback.answer(
            _("Sorry, this product is sold out; please look again later."), show_alert=True
        )
        return
    promo = callback_data.promo if isinstance(callback_data, BuyWithCode) else None
    with_code = await priced_with(callback, shop, product, promo)
    if with_code is False:
        return
    gateways = gateways_for(product, settings)
    if gateways:
        price = with_code.price if with_code else product.price
        await bot.send_message(
            callback.from_user.id,
            _("How would you like to pay for <b>{name}</b> ({price})?").format(
                name=escape(product.name), price=format_amount(price, product.currency)
            ),
            reply_markup=pay_options_keyboard(product, gateways, payable(product, settings), promo),
        )
        await callback.answer()
        return
    await offer_invoice(callback, product, settings, bot, with_code)


async def priced_with(
    callback: CallbackQuery, shop: Shop, product: Product, code_id: int | None
) -> PromoPrice | Literal[False] | None:
    """The product's price with the promo code a button names (None: no code); False, once
    the button is answered with why not, when the code does not apply."""
    if code_id is None:
        return None
    code = await shop.promo_codes.get(code_id)
    found = await promo_price(shop, code, product, callback.from_user.id, now())
    if isinstance(found, PromoPrice):
        return found
    await callback.answer(found, show_alert=True)
    return False


async def offer_invoice(
    callback: CallbackQuery,
    product: Product,
    settings: Settings,
    bot: Bot,
    with_code: PromoPrice | None = None,
) -> None:
    """A Telegram invoice for the product (at its price with a promo code), or an alert
    saying why there is none."""
    invoice = invoice_for(product, callback.from_user.id, settings, with_code)
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
