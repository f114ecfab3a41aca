"""The shop's rules and use cases, between the handlers (Telegram) and the DAO (SQL): money,
invoices and the checkout check, recording payments, what a purchase delivers, catalog
removals and validation. No aiogram here and no SQL: data goes through `Shop`, the DAO bundle
the session middleware builds for each update."""

from bot.shop.services import Shop

__all__ = ["Shop"]
