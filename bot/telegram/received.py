"""Telegram's objects read as the shop's values: a user as a customer."""

from __future__ import annotations

from aiogram.types import User

from bot.shop.customers import Customer


def customer_of(user: User) -> Customer:
    return Customer(
        telegram_id=user.id,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
    )
