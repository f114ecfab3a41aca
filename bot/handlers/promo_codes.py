"""🏷 Promo code on a product card: ask for the code, then show the card at its price, whose
Buy pays that price."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.handlers.catalog import card_screen, show_card
from bot.handlers.ui import load_or_stale, show
from bot.i18n import _
from bot.keyboards.callbacks import EnterPromo
from bot.keyboards.common import button
from bot.shop import Shop
from bot.shop.promo_codes import PromoPrice, describe, normalise, promo_price
from bot.shop.stock import now

router = Router(name="promo-codes")


class PromoForm(StatesGroup):
    code = State()  # waiting for the code typed for the product in the state's data


@router.callback_query(EnterPromo.filter())
async def ask_code(
    callback: CallbackQuery, callback_data: EnterPromo, shop: Shop, state: FSMContext
) -> None:
    product = await load_or_stale(callback, shop.products.card(callback_data.product_id))
    if product is None:
        return
    if callback_data.back:
        if await state.get_state() == PromoForm.code.state:
            await state.clear()
        await show_card(callback, shop, product, callback_data.page, reviews=product.reviews)
        return
    await state.set_data({"product_id": product.id, "page": callback_data.page})
    await state.set_state(PromoForm.code)
    leave = EnterPromo(product_id=product.id, page=callback_data.page, back=True)
    back = button(_("⬅️ Back"), leave)
    await show(
        callback,
        _("🏷 Send your promo code for <b>{name}</b>.").format(name=escape(product.name)),
        InlineKeyboardMarkup(inline_keyboard=[[back]]),
    )


@router.message(PromoForm.code)
async def take_code(message: Message, shop: Shop, state: FSMContext) -> None:
    if message.from_user is None:
        return
    data = await state.get_data()
    product = await shop.products.card(int(data["product_id"]))
    if product is None:
        await state.clear()
        await message.answer(_("Sorry, this product is no longer on sale."))
        return
    typed = normalise(message.text)
    code = await shop.promo_codes.by_code(typed) if typed else None
    found = await promo_price(shop, code, product, message.from_user.id, now())
    if not isinstance(found, PromoPrice):
        await message.answer(_("{reason} Send another code, or /cancel.").format(reason=found))
        return
    await state.clear()
    assert code is not None
    note = _("🏷 Promo code <code>{code}</code>: {discount} off.").format(
        code=found.code, discount=describe(code)
    )
    text, markup = await card_screen(
        shop, product, message.from_user.id, int(data["page"]), note, product.reviews, found
    )
    await message.answer(text, reply_markup=markup)
