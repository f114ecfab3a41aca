"""Promo codes: /promo_new and /promo_edit (bot.shop.promo_terms), and 🏷 Promo codes in the
panel, a list with each code's uses and the discount it gave, and a switch per code."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.dao.models import PromoCode
from bot.dao.promo_codes import Usage
from bot.handlers.ui import show, stale
from bot.i18n import _, ngettext
from bot.i18n.formats import moment
from bot.keyboards.admin import promo_codes_keyboard
from bot.keyboards.callbacks import AdminPromo, AdminPromos
from bot.keyboards.common import page_caption
from bot.shop import Shop
from bot.shop.money import format_amounts
from bot.shop.promo_codes import describe
from bot.shop.promo_terms import parse_code, parse_terms, usage

router = Router(name="admin-promo-codes")


def _given(usage_: Usage | None) -> str:
    if usage_ is None or not usage_.uses:
        return _("not used yet")
    given = format_amounts(usage_.discounts)
    return _("used {uses}, {given} off in all").format(uses=usage_.uses, given=given)


def code_line(code: PromoCode, usage_: Usage | None) -> str:
    """One code: its discount, what it is for, its limits, its window and how it was used."""
    scope = _("every product")
    if code.product_id is not None:
        scope = _("product #{id}").format(id=code.product_id)
    elif code.category_id is not None:
        scope = _("category #{id}").format(id=code.category_id)
    parts = [
        f"{'🟢' if code.active else '⚪️'} <code>{escape(code.code)}</code>",
        describe(code),
        scope,
    ]
    if code.owner_telegram_id is not None:
        parts.append(_("only for user {id}").format(id=code.owner_telegram_id))
    if code.max_uses is not None:
        parts.append(
            ngettext("at most {count} use", "at most {count} uses", code.max_uses).format(
                count=code.max_uses
            )
        )
    if code.per_user is not None:
        parts.append(_("{count} per buyer").format(count=code.per_user))
    if code.starts_at is not None:
        parts.append(_("from {when}").format(when=moment(code.starts_at)))
    if code.ends_at is not None:
        parts.append(_("until {when}").format(when=moment(code.ends_at)))
    parts.append(_given(usage_))
    return " — ".join(parts)


async def _checked(shop: Shop, columns: dict[str, Any]) -> str | None:
    """Why the product or category named does not exist; None when they do."""
    product_id, category_id = columns.get("product_id"), columns.get("category_id")
    if product_id is not None and await shop.products.get(product_id) is None:
        return _("There is no product #{id}.").format(id=product_id)
    if category_id is not None and await shop.categories.get(category_id) is None:
        return _("There is no category #{id}.").format(id=category_id)
    return None


async def _read(
    message: Message, command: CommandObject, shop: Shop, *, new: bool
) -> tuple[str, dict[str, Any]] | None:
    """The code and the columns the command sets; None once the admin has been told what
    is wrong with it."""
    words = (command.args or "").split()
    try:
        code = parse_code(words[0] if words else None)
        columns = parse_terms(words[1:], new=new)
    except ValueError as error:
        await message.answer(escape(str(error)))
        return None
    refusal = await _checked(shop, columns)
    if refusal is not None:
        await message.answer(refusal)
        return None
    return code, columns


@router.message(Command("promo_new"))
async def create(message: Message, command: CommandObject, shop: Shop) -> None:
    read = await _read(message, command, shop, new=True)
    if read is None:
        return
    code, columns = read
    created = await shop.promo_codes.create(code=code, **columns)
    if created is None:
        await message.answer(
            _("The code {code} exists already: change it with /promo_edit.").format(code=code)
        )
        return
    await message.answer(_("🏷 Made: {line}").format(line=code_line(created, None)))


@router.message(Command("promo_edit"))
async def edit(message: Message, command: CommandObject, shop: Shop) -> None:
    read = await _read(message, command, shop, new=False)
    if read is None:
        return
    code, columns = read
    found = await shop.promo_codes.by_code(code)
    if found is None:
        await message.answer(_("There is no code {code}.").format(code=code))
        return
    if not columns:
        await message.answer(escape(usage()))
        return
    await shop.promo_codes.change(found.id, **columns)
    changed = await shop.promo_codes.get(found.id, lock=True)
    assert changed is not None
    usage_ = (await shop.promo_codes.usage([found.id])).get(found.id)
    await message.answer(_("🏷 Changed: {line}").format(line=code_line(changed, usage_)))


async def _show_page(callback: CallbackQuery, shop: Shop, settings: Settings, number: int) -> None:
    page = await shop.promo_codes.page(number, settings.catalog_page_size)
    if not page.exists:
        await stale(callback)
        return
    used = await shop.promo_codes.usage([code.id for code in page.items])
    lines = [_("🏷 <b>Promo codes</b>"), ""]
    lines += [code_line(code, used.get(code.id)) for code in page.items] or [_("None yet.")]
    lines += ["", escape(_("New: /promo_new; change: /promo_edit CODE …")), escape(usage())]
    await show(callback, "\n".join(lines) + page_caption(page), promo_codes_keyboard(page))


@router.callback_query(AdminPromos.filter())
async def promo_codes(
    callback: CallbackQuery, callback_data: AdminPromos, shop: Shop, settings: Settings
) -> None:
    await _show_page(callback, shop, settings, callback_data.page)


@router.callback_query(AdminPromo.filter())
async def switch(
    callback: CallbackQuery, callback_data: AdminPromo, shop: Shop, settings: Settings
) -> None:
    if not await shop.promo_codes.change(callback_data.code_id, active=callback_data.active):
        await stale(callback)
        return
    await _show_page(callback, shop, settings, callback_data.page)
