"""Limits of what an admin may type: the name columns' own lengths, and the shop's caps on
the free-text columns."""

from __future__ import annotations

from typing import Literal

from bot.dao.models import CATEGORY_NAME_MAX, PRODUCT_NAME_MAX
from bot.i18n import _, ngettext

DESCRIPTION_MAX = 1000
CONTENT_MAX = 4000

__all__ = ["CATEGORY_NAME_MAX", "CONTENT_MAX", "DESCRIPTION_MAX", "PRODUCT_NAME_MAX", "clean_text"]

# What the admin is typing; each refusal names it in a sentence of its own (in Russian the
# words around "the name" change with it, so no sentence is assembled from a fragment).
Field = Literal["the name", "the description", "the content"]


def _not_a_text(what: Field) -> str:
    return {
        "the name": _("Please send the name as a text message."),
        "the description": _("Please send the description as a text message."),
        "the content": _("Please send the content as a text message."),
    }[what]


def _empty(what: Field) -> str:
    return {
        "the name": _("The name cannot be empty."),
        "the description": _("The description cannot be empty."),
        "the content": _("The content cannot be empty."),
    }[what]


def _too_long(what: Field, length: int, max_length: int) -> str:
    texts = {
        "the name": ngettext(
            "The name is too long: {count} character, at most {max_length}.",
            "The name is too long: {count} characters, at most {max_length}.",
            length,
        ),
        "the description": ngettext(
            "The description is too long: {count} character, at most {max_length}.",
            "The description is too long: {count} characters, at most {max_length}.",
            length,
        ),
        "the content": ngettext(
            "The content is too long: {count} character, at most {max_length}.",
            "The content is too long: {count} characters, at most {max_length}.",
            length,
        ),
    }
    return texts[what].format(count=length, max_length=max_length)


def clean_text(text: str | None, *, what: Field, max_length: int) -> str:
    """The stripped text, or ValueError with a message for the admin."""
    if text is None:
        raise ValueError(_not_a_text(what))
    value = text.strip()
    if not value:
        raise ValueError(_empty(what))
    if len(value) > max_length:
        raise ValueError(_too_long(what, len(value), max_length))
    return value
