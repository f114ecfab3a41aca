"""Limits of what an admin may type, matching the columns that store it."""

from __future__ import annotations

PRODUCT_NAME_MAX = 128
DESCRIPTION_MAX = 1000
CATEGORY_NAME_MAX = 64
CONTENT_MAX = 4000


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
