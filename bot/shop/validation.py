"""Limits of what an admin may type: the name columns' own lengths, and the shop's caps on
the free-text columns."""

from __future__ import annotations

from bot.dao.models import CATEGORY_NAME_MAX, PRODUCT_NAME_MAX

DESCRIPTION_MAX = 1000
CONTENT_MAX = 4000

__all__ = ["CATEGORY_NAME_MAX", "CONTENT_MAX", "DESCRIPTION_MAX", "PRODUCT_NAME_MAX", "clean_text"]


def clean_text(text: str | None, *, what: str, max_length: int) -> str:
    """The stripped text, or ValueError with a message for the admin."""
    if text is None:
        raise ValueError(f"Please send {what} as a text message.")
    value = text.strip()
    subject = what[:1].upper() + what[1:]
    if not value:
        raise ValueError(f"{subject} cannot be empty.")
    if len(value) > max_length:
        raise ValueError(f"{subject} is too long: {len(value)} characters, at most {max_length}.")
    return value
