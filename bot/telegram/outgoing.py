"""One message the bot sends, as a value: what the outbox renders and a sender sends."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup


@dataclass(frozen=True)
class Part:
    """A text message (HTML) or, with `photo` or `document` (a Telegram file id), that file
    with `text` as its caption; either with inline buttons. `paid`: sent as a paid broadcast
    (`allow_paid_broadcast`, past the free rate, charged in Stars)."""

    text: str
    document: str | None = None
    markup: InlineKeyboardMarkup | None = None
    photo: str | None = None
    paid: bool = False

    async def send(self, bot: Bot, chat_id: int) -> None:
        paid = True if self.paid else None
        if self.photo is not None:
            await bot.send_photo(
                chat_id,
                self.photo,
                caption=self.text,
                reply_markup=self.markup,
                allow_paid_broadcast=paid,
            )
        elif self.document is not None:
            await bot.send_document(
                chat_id,
                self.document,
                caption=self.text,
                reply_markup=self.markup,
                allow_paid_broadcast=paid,
            )
        else:
            await bot.send_message(
                chat_id, self.text, reply_markup=self.markup, allow_paid_broadcast=paid
            )
