"""Buying: the invoice, the pre-checkout check, and the successful payment."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery, User
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.dao.catalog import ProductDAO
from bot.dao.models import Product
from bot.dao.money import STARS, format_amount
from bot.dao.purchases import PROVIDER_CARD, PROVIDER_STARS, PurchaseDAO
from bot.dao.users import UserDAO
from bot.handlers import invoice
from bot.handlers.delivery import Goods, deliver, notify_admins
from bot.handlers.ui import stale
from bot.keyboards.callbacks import Buy
from bot.middlewares.database import AfterCommit

router = Router(name="payments")

UNMATCHED = (
    "Your payment arrived but we could not match it to a product. "
    "The shop's admins have been told and will sort it out."
)


@router.callback_query(Buy.filter())
async def buy(
    callback: CallbackQuery,
    callback_data: Buy,
    session: AsyncSession,
    settings: Settings,
    bot: Bot,
) -> None:
    product = await ProductDAO(session).on_sale(callback_data.product_id)
    if product is None:
        await stale(callback)
        return
    if not invoice.payable(product, settings):
        await callback.answer("Sorry, this product cannot be paid for right now.", show_alert=True)
        return
    title = invoice.clip(product.name, invoice.TITLE_MAX)
    await bot.send_invoice(
        chat_id=callback.from_user.id,
        title=title,
        description=invoice.clip(product.description or product.name, invoice.DESCRIPTION_MAX),
        payload=invoice.build_payload(product.id, callback.from_user.id),
        currency=product.currency,
        prices=[LabeledPrice(label=title, amount=product.price)],
        provider_token="" if product.currency == STARS else invoice.provider_token(settings),
    )
    await callback.answer()


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery, session: AsyncSession, settings: Settings) -> None:
    checkout = invoice.Checkout(
        payload=query.invoice_payload,
        payer_id=query.from_user.id,
        currency=query.currency,
        total_amount=query.total_amount,
    )
    payload = invoice.parse_payload(checkout.payload)
    product = await ProductDAO(session).get(payload.product_id) if payload else None
    refusal = invoice.checkout_refusal(checkout, product, settings)
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
    message: Message,
    session: AsyncSession,
    settings: Settings,
    bot: Bot,
    after_commit: AfterCommit,
) -> None:
    payment = message.successful_payment
    buyer = message.from_user
    if payment is None or buyer is None:
        return
    # The upsert comes first: on SQLite a transaction that starts with a write waits for a
    # concurrent duplicate's lock instead of failing on a stale read snapshot.
    user = await UserDAO(session).register(
        buyer.id, username=buyer.username, first_name=buyer.first_name, last_name=buyer.last_name
    )
    charge = payment.telegram_payment_charge_id
    paid = format_amount(payment.total_amount, payment.currency)
    payload = invoice.parse_payload(payment.invoice_payload)
    product: Product | None = await ProductDAO(session).get(payload.product_id) if payload else None
    if product is None:
        logger.error("payment {} ({}) names no known product: {!r}", charge, paid, payload)
        await message.answer(UNMATCHED)
        notice = f"⚠️ Payment <code>{escape(charge)}</code> of {paid} by {_buyer(buyer)} "
        notice += "names no known product: refund it or deliver it by hand."
        after_commit(lambda: notify_admins(bot, settings.admin_ids, notice))
        return
    purchase_id = await PurchaseDAO(session).record(
        user_id=user.id,
        product_id=product.id,
        amount=payment.total_amount,
        currency=payment.currency,
        provider=PROVIDER_STARS if payment.currency == STARS else PROVIDER_CARD,
        charge_id=charge,
        provider_charge_id=payment.provider_payment_charge_id,
    )
    if purchase_id is None:
        logger.info("payment {} is already recorded; not delivering it again", charge)
        return
    logger.info(
        "purchase {}: product {} for {} by user {}", purchase_id, product.id, paid, buyer.id
    )
    goods = Goods.of(product)
    notice = f"💰 New purchase #{purchase_id}: <b>{escape(product.name)}</b> for {paid} "
    notice += f"by {_buyer(buyer)}."
    after_commit(lambda: deliver(bot, message.chat.id, goods))
    after_commit(lambda: notify_admins(bot, settings.admin_ids, notice))
