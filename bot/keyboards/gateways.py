"""Keyboards of the gateways: the ways to pay for a product, and an order's payment link."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.dao.models import Product
from bot.i18n import _
from bot.keyboards.callbacks import PayMethod, PayWith, PayWithCode
from bot.keyboards.common import button
from bot.shop.gateways import PROVIDER_ROBOKASSA
from bot.shop.money import STARS


def pay_options_keyboard(
    product: Product, gateways: Sequence[str], telegram: bool, promo: int | None = None
) -> InlineKeyboardMarkup:
    """Telegram Payments (when it can take the price), then each gateway that can; `promo`:
    the promo code each of them pays with."""
    builder = InlineKeyboardBuilder()
    if telegram:
        label = (
            _("⭐ Pay with Telegram Stars")
            if product.currency == STARS
            else _("💳 Pay in Telegram")
        )
        builder.row(button(label, _pay_with(product, PayMethod.TELEGRAM, promo)))
    for gateway in gateways:
        if gateway == PROVIDER_ROBOKASSA:
            label, method = _("💳 Pay by card (Robokassa)"), PayMethod.ROBOKASSA
        else:
            label, method = _("🪙 Pay with crypto"), PayMethod.CRYPTOPAY
        builder.row(button(label, _pay_with(product, method, promo)))
    return builder.as_markup()


def _pay_with(product: Product, method: PayMethod, promo: int | None) -> CallbackData:
    if promo is None:
        return PayWith(product_id=product.id, method=method)
    return PayWithCode(product_id=product.id, method=method, promo=promo)


def pay_link_keyboard(label: str, url: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=label, url=url)]])
