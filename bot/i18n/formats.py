"""Numbers and dates as the current language writes them (Babel's CLDR data)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from aiogram.utils.i18n import I18n
from babel.dates import format_date
from babel.numbers import format_decimal

SOURCE_LANGUAGE = "en"


def current_language() -> str:
    i18n = I18n.get_current(no_error=True)
    return i18n.current_locale if i18n is not None else SOURCE_LANGUAGE


def number(value: Decimal | int, digits: int = 0, language: str | None = None) -> str:
    """1,500.00 in English, 1 500,00 in Russian (digits: decimal places, always shown), in
    `language` or the current one."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=language or current_language())


def moment(value: datetime) -> str:
    """A date and time in UTC: "Nov 26, 2026 10:45 UTC", "26 нояб. 2026 г. 10:45 UTC"."""
    day = format_date(value, "medium", locale=current_language())
    return f"{day} {value.astimezone(UTC):%H:%M} UTC"
