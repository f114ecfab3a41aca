"""Paying through a gateway outside Telegram: the buyer picks a way to pay after Buy, gets an
order with its number and a payment link; the gateway's callback (bot.web.payment_callbacks)
delivers the purchase."""

from __future__ import annotations

from html import escape

from aiogram import Bot, Router
from aiogram.types import CallbackQuery

from bot.config import Settings
from bot.handlers.payments import offer_invoice, priced_with
from bot.handlers.ui import load_or_stale, stale
from bot.i18n import _, ngettext
from bot.keyboards.callbacks import PayMethod, PayWith, PayWithCode
from bot.keyboards.gateways import pay_link_keyboard
from bot.payments.gateway_orders import Gateways
from bot.shop import Shop
from bot.shop.gateways import PROVIDER_ROBOKASSA
from bot.shop.money import format_amount
from bot.shop.orders import NotOnSale, NoUnitLeft, Offer, PromoRefused, Unavailable
from bot.telegram.received import customer_of

router = Router(name="gateways")


@router.callback_query(PayWith.filter())
@router.callback_query(PayWithCode.filter())
async def pay_with(
    callback: CallbackQuery,
    callback_data: PayWith | PayWithCode,
    shop: Shop,
    settings: Settings,
    bot: Bot,
    gateways: Gateways | None,
) -> None:
    promo = callback_data.promo if isinstance(callback_data, PayWithCode) else None
    if callback_data.method is PayMethod.TELEGRAM:
        product = await load_or_stale(callback, shop.products.on_sale(callback_data.product_id))
        if product is None:
            return
        with_code = await priced_with(callback, shop, product, promo)
        if with_code is not False:
            await offer_invoice(callback, product, settings, bot, with_code)
        return
    method = str(callback_data.method)
    if gateways is None or method not in gateways.providers:  # set up no more, or forged
        await stale(callback)
        return
    # Not through the update's session: a Crypto Pay invoice is a network call, and no
    # transaction may stay open across one.
    buyer = customer_of(callback.from_user)
    offer = await gateways.open(method, callback_data.product_id, buyer, promo)
    if isinstance(offer, NotOnSale):
        await stale(callback)
    elif isinstance(offer, PromoRefused):
        await callback.answer(offer.reason, show_alert=True)
    elif isinstance(offer, NoUnitLeft):
        await callback.answer(
            _("Sorry, this product is sold out; please look again later."), show_alert=True
        )
    elif isinstance(offer, Unavailable):
        await callback.answer(
            _("Sorry, paying with crypto is not available right now; please try again later."),
            show_alert=True,
        )
    else:
        await _send_offer(bot, callback.from_user.id, offer, settings.gateway_order_minutes)
        await callback.answer()


async def _send_offer(bot: Bot, chat_id: int, offer: Offer, minutes: int) -> None:
    order = offer.order
    price = format_amount(order.amount, order.currency)
    gateway = "Robokassa" if offer.provider == PROVIDER_ROBOKASSA else "Crypto Pay"
    within = ngettext(
        "Pay within {count} minute with the button below.",
        "Pay within {count} minutes with the button below.",
        minutes,
    ).format(count=minutes)
    text = "\n".join(
        [
            _("🧾 Order #{number}: <b>{name}</b>, {price}.").format(
                number=order.order_id, name=escape(order.product_name), price=price
            ),
            within,
            _("Your purchase arrives here as soon as {gateway} confirms the payment.").format(
                gateway=gateway
            ),
        ]
    )
    label = _("Pay {price}").format(price=price)
    await bot.send_message(chat_id, text, reply_markup=pay_link_keyboard(label, offer.pay_url))
