"""The shop's customers: whoever talks to the bot is registered, or has their names refreshed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dao.models import User
from bot.i18n.formats import current_language
from bot.shop.services import Shop


@dataclass(frozen=True)
class Customer:
    telegram_id: int
    username: str | None
    first_name: str | None
    last_name: str | None

    @classmethod
    def of(cls, user: User) -> Customer:
        return cls(user.telegram_id, user.username, user.first_name, user.last_name)


async def register(shop: Shop, customer: Customer) -> User:
    """In an update, the language it is handled in is stored for a user who has none yet:
    their client's, at first contact."""
    return await shop.users.register(
        customer.telegram_id,
        username=customer.username,
        first_name=customer.first_name,
        last_name=customer.last_name,
        language=current_language(),
    )
