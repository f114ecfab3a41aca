"""What the bot says about a payment: the buyer's lines and the admins' notices, each composed
in the language of the chat it goes to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape

from bot.dao.models import OUTBOX_TEXT
from bot.dao.outbox import NewMessage
from bot.i18n import _, __, default_language, speaking
from bot.shop import Shop
from bot.shop.customers import Customer
from bot.shop.money import format_amount
from bot.shop.purchases import Receipt, Recorded
from bot.shop.referrals import Reward

# Lines to the buyer, lazy (translated when used, in the buyer's language): str() them.
DELIVERY_FOLLOWS = __(
    "Your payment arrived. The shop is busy right now: your purchase will be delivered "
    "here automatically, so there is nothing you need to do."
)
UNMATCHED = __(
    "Your payment arrived but we could not match it to a product. "
    "The shop's admins have been told and will sort it out."
)
UNSAVED = __(
    "Your payment arrived, but the shop could not record it right now. The shop's admins "
    "have been told and will deliver your purchase."
)


async def in_languages_of(
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


INVITED_THANKS = __(
    "🎁 Your first purchase has earned the friend who invited you a reward. Thank you!"
)


def reward_notice(buyer: Customer, reward: Reward) -> str:
    """To an inviter, whose invited buyer has just made their first purchase."""
    return _(
        "🎁 {buyer} came through your invitation and made their first purchase. Your reward: "
        "promo code <code>{code}</code>, {percent}% off one purchase."
    ).format(
        buyer=escape(buyer.first_name or str(buyer.telegram_id)),
        code=reward.code,
        percent=reward.percent,
    )


def sale_notice(receipt: Receipt, recorded: Recorded) -> str:
    payment = receipt.payment
    return _("💰 New purchase #{id}: <b>{name}</b> for {paid} by {buyer}.").format(
        id=recorded.purchase_id,
        name=escape(recorded.goods.name),
        paid=format_amount(payment.amount, payment.currency),
        buyer=buyer_link(receipt.payer),
    )


def unmatched_notice(receipt: Receipt) -> str:
    return _notice(
        receipt,
        _(
            "⚠️ Payment <code>{charge}</code> of {paid} by {buyer} names no known product: "
            "refund it or deliver it by hand."
        ),
    )


def unsaved_notice(receipt: Receipt) -> str:
    return _notice(
        receipt,
        _(
            "⚠️ Payment <code>{charge}</code> of {paid} by {buyer} could not be recorded "
            "(database and journal both failed): deliver it by hand."
        ),
    )


def sold_out_notice(receipt: Receipt, product_name: str, refunded: bool) -> str:
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


def sold_out_line(receipt: Receipt, product_name: str, refunded: bool) -> str:
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


def _notice(receipt: Receipt, template: str, **more: str) -> str:
    """A translated notice about a payment: `template` names its {charge}, {paid} and {buyer}."""
    payment = receipt.payment
    return template.format(
        charge=escape(payment.charge_id),
        paid=format_amount(payment.amount, payment.currency),
        buyer=buyer_link(receipt.payer),
        **more,
    )


def buyer_link(customer: Customer) -> str:
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    handle = f" @{customer.username}" if customer.username else ""
    user_id = customer.telegram_id
    link = f'<a href="tg://user?id={user_id}">{escape(name or str(user_id))}</a>'
    return f"{link}{handle} (id {user_id})"
