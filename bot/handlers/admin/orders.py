"""Looking a gateway order up by its number (`/order <number>`): its state (awaiting
payment, paid, expired, refunded), what it is for, who placed it, and the purchase it became."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.dao.models import ORDER_CREATED, ORDER_EXPIRED, ORDER_PAID, ORDER_REFUNDED, Order
from bot.i18n import _
from bot.i18n.formats import moment
from bot.shop import Shop
from bot.shop.gateways import PROVIDER_ROBOKASSA
from bot.shop.money import format_amount

router = Router(name="admin-orders")


def _state(order: Order) -> str:
    """What became of it; a paid order whose purchase was refunded counts as refunded."""
    state = order.state
    if order.purchase is not None and order.purchase.refunded_at is not None:
        state = ORDER_REFUNDED
    names = {
        ORDER_CREATED: _("awaiting payment"),
        ORDER_PAID: _("paid"),
        ORDER_EXPIRED: _("expired"),
        ORDER_REFUNDED: _("refunded"),
    }
    return names.get(state, state)


def _card(order: Order) -> str:
    buyer = order.user
    name = " ".join(part for part in (buyer.first_name, buyer.last_name) if part)
    handle = f" @{buyer.username}" if buyer.username else ""
    gateway = "Robokassa" if order.provider == PROVIDER_ROBOKASSA else "Crypto Pay"
    lines = [
        _("🧾 <b>Order #{id}</b> via {gateway}: {state}").format(
            id=order.id, gateway=gateway, state=_state(order)
        ),
        _("Product: {name}").format(name=escape(order.product.name)),
        _("Buyer: {name}{handle} (id {telegram_id})").format(
            name=escape(name), handle=handle, telegram_id=buyer.telegram_id
        ),
        _("Amount: {amount}").format(amount=format_amount(order.amount, order.currency)),
        _("Placed: {when}; payable until {until}").format(
            when=moment(order.created_at), until=moment(order.expires_at)
        ),
    ]
    if order.external_id is not None:
        lines.append(_("Gateway's id: <code>{id}</code>").format(id=escape(order.external_id)))
    if order.paid_at is not None and order.purchase_id is not None:
        lines.append(
            _("Paid on {when}: purchase #{purchase}").format(
                when=moment(order.paid_at), purchase=order.purchase_id
            )
        )
    return "\n".join(lines)


@router.message(Command("order"))
async def look_up(message: Message, command: CommandObject, shop: Shop) -> None:
    argument = (command.args or "").strip().lstrip("#")
    if not argument.isdecimal() or not 1 <= int(argument) <= 2**31 - 1:
        await message.answer(_("Send /order and the order number, e.g. /order 12."))
        return
    order = await shop.orders.get(int(argument))
    if order is None:
        await message.answer(_("There is no order #{id}.").format(id=int(argument)))
        return
    await message.answer(_card(order))
