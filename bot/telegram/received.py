"""Telegram's objects read as the shop's values: a user as a customer, a successful payment
as the receipt the payment journal keeps."""

from __future__ import annotations

from aiogram.types import Message, User

from bot.shop.customers import Customer
from bot.shop.purchases import Payment, Receipt


def customer_of(user: User) -> Customer:
    return Customer(
        telegram_id=user.id,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
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
