"""Broadcasts' rules: a message Telegram takes (its HTML and length checked as Telegram checks
them, so an admin learns what is wrong before anyone is sent anything), an optional button,
and the audiences an admin picks from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dao.broadcasts import (
    AUDIENCE_ACTIVE,
    AUDIENCE_ALL,
    AUDIENCE_CATEGORY,
    AUDIENCE_LANGUAGE,
    AUDIENCE_NEVER_BOUGHT,
    AUDIENCE_PRODUCT,
    Audience,
)
from bot.i18n import _
from bot.shop.telegram_html import CAPTION_MAX, TEXT_MAX, shown_length

BUTTON_TEXT_MAX = 64
URL_MAX = 512
_LINK = re.compile(r"(?:https?|tg)://\S+", re.IGNORECASE)
ACTIVE_DAYS = (7, 30, 90)  # the "active in the last N days" audiences offered
AUDIENCE_KINDS = (
    AUDIENCE_ALL,
    AUDIENCE_PRODUCT,
    AUDIENCE_CATEGORY,
    AUDIENCE_LANGUAGE,
    AUDIENCE_ACTIVE,
    AUDIENCE_NEVER_BOUGHT,
)


def checked_message(html: str, *, caption: bool) -> str:
    """The message's HTML as Telegram takes it, or ValueError saying what to change."""
    length = shown_length(html)
    limit = CAPTION_MAX if caption else TEXT_MAX
    if length > limit:
        raise ValueError(
            _("It is {count} characters long; Telegram takes at most {limit} here.").format(
                count=length, limit=limit
            )
        )
    if not caption and not length:
        raise ValueError(_("The message has no text."))
    return html


@dataclass(frozen=True)
class ButtonChoice:
    """A link button (its text and address) or a product of the shop's (its id)."""

    text: str | None = None
    url: str | None = None
    product_id: int | None = None


def parse_button(typed: str) -> ButtonChoice:
    """`#12`: product 12; `Label https://…`: a link. ValueError says what to send."""
    typed = typed.strip()
    if re.fullmatch(r"#\d{1,9}", typed):
        return ButtonChoice(product_id=int(typed[1:]))
    link = _LINK.search(typed)
    label = typed[: link.start()].strip() if link is not None else ""
    if link is None or link.end() != len(typed) or not label:
        raise ValueError(
            _("Send the button as “Label https://…”, or #12 for product 12, or /skip.")
        )
    if len(label) > BUTTON_TEXT_MAX or len(link[0]) > URL_MAX:
        raise ValueError(
            _("The label may have {label} characters and the link {url} at most.").format(
                label=BUTTON_TEXT_MAX, url=URL_MAX
            )
        )
    return ButtonChoice(text=label, url=link[0])


def parse_audience(kind: str, value: str | None) -> Audience:
    """An audience from a button or what an admin typed; ValueError if it is none."""
    if kind not in AUDIENCE_KINDS:
        raise ValueError(kind)
    if kind in (AUDIENCE_PRODUCT, AUDIENCE_CATEGORY) and not (value or "").isdigit():
        raise ValueError(value)
    if kind == AUDIENCE_ACTIVE and value not in {str(days) for days in ACTIVE_DAYS}:
        raise ValueError(value)
    if kind in (AUDIENCE_ALL, AUDIENCE_NEVER_BOUGHT):
        value = None
    return Audience(kind, value)
