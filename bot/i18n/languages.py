"""The languages the bot speaks, and which one a Telegram user gets on first contact."""

from __future__ import annotations

ENGLISH, RUSSIAN = "en", "ru"
# In the order the 🌐 picker shows them, each in its own words.
LANGUAGES = {ENGLISH: "English", RUSSIAN: "Русский"}
# Telegram clients in these languages get Russian: their users read it more readily than English.
RUSSIAN_CLIENTS = ("ru", "uk", "be", "kk")


def language_for(language_code: str | None, default: str) -> str:
    """A new user's language from their client's IETF tag (`ru`, `uk-UA`, ...): Russian for
    Russian readers, the shop's DEFAULT_LANGUAGE for everyone else (and for no tag)."""
    primary = (language_code or "").split("-")[0].lower()
    return RUSSIAN if primary in RUSSIAN_CLIENTS else default
