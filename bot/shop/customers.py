"""The shop's customers: whoever talks to the bot is registered, or has their names refreshed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dao.models import User
from bot.shop.services import Shop


@dataclass(frozen=True)
class Customer:
    telegram_id: int
    username: str | None
    first_name: str | None
    last_name: str | None


async def register(shop: Shop, customer: Customer) -> User:
    return await shop.users.register(
        customer.telegram_id,
        username=customer.username,
        first_name=customer.first_name,
        last_name=customer.last_name,
    )
