"""What an admin types to make or change a promo code, read into its columns:

    CODE 20% product=12 uses=100 per_user=1 from=2026-12-01 until=2026-12-31
    CODE 50XTR category=3          (a fixed amount: a number and the currency, no space)

`until` is the last day it works (through 23:59 UTC); `-` clears a limit (`uses=-`). Every
refusal is one line saying what to send instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.i18n import _
from bot.shop.money import parse_price
from bot.shop.promo_codes import normalise

_PERCENT = re.compile(r"([1-9][0-9]?)%")
_AMOUNT = re.compile(r"([0-9]+(?:[.,][0-9]+)?)([A-Za-z]{3})")
_OPTIONS = ("product", "category", "uses", "per_user", "from", "until")
_WHOLE = re.compile(r"[1-9][0-9]{0,8}")


def usage() -> str:
    return _(
        "Send: CODE 20% (or 50XTR) [product=ID] [category=ID] [uses=N] [per_user=N] "
        "[from=YYYY-MM-DD] [until=YYYY-MM-DD]"
    )


def parse_code(word: str | None) -> str:
    code = normalise(word)
    if code is None:
        raise ValueError(
            _("A code is 3 to 32 letters A-Z, digits, - or _. {usage}").format(usage=usage())
        )
    return code


def parse_discount(word: str) -> dict[str, Any] | None:
    """The discount's columns, or None if `word` is not a discount."""
    percent = _PERCENT.fullmatch(word)
    if percent:
        return {"percent": int(percent[1]), "amount": None, "currency": None}
    amount = _AMOUNT.fullmatch(word)
    if amount:
        currency = amount[2].upper()
        return {"percent": None, "amount": parse_price(amount[1], currency), "currency": currency}
    return None


def _day(value: str, name: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(
            _("“{word}”: a date like 2026-12-31 goes here.").format(word=f"{name}={value}")
        ) from None


def _option(name: str, value: str) -> tuple[str, Any]:
    cleared = value == "-"
    if name in ("product", "category", "uses", "per_user"):
        if not cleared and not _WHOLE.fullmatch(value):
            raise ValueError(
                _("“{word}”: a whole number goes here, or - for none.").format(
                    word=f"{name}={value}"
                )
            )
        column = {"product": "product_id", "category": "category_id", "uses": "max_uses"}
        return column.get(name, name), None if cleared else int(value)
    if cleared:
        return ("starts_at" if name == "from" else "ends_at"), None
    if name == "from":
        return "starts_at", _day(value, name)
    return "ends_at", _day(value, name) + timedelta(days=1)


def parse_terms(words: list[str], *, new: bool) -> dict[str, Any]:
    """The columns these words set; a new code must name its discount. ValueError with a
    line for the admin."""
    columns: dict[str, Any] = {}
    for word in words:
        discount = parse_discount(word)
        if discount is not None:
            columns.update(discount)
            continue
        name, _sep, value = word.partition("=")
        if name not in _OPTIONS or not value:
            raise ValueError(
                _("I do not understand “{word}”. {usage}").format(word=word, usage=usage())
            )
        key, parsed = _option(name, value)
        columns[key] = parsed
    if new and "percent" not in columns:
        raise ValueError(
            _("Say what the code takes off: 20% or 50XTR. {usage}").format(usage=usage())
        )
    if columns.get("product_id") and columns.get("category_id"):
        raise ValueError(_("A code is for one product or one category, not both."))
    if columns.get("product_id"):
        columns.setdefault("category_id", None)
    if columns.get("category_id"):
        columns.setdefault("product_id", None)
    starts, ends = columns.get("starts_at"), columns.get("ends_at")
    if starts is not None and ends is not None and ends <= starts:
        raise ValueError(_("The last day (until=…) must not be before the first (from=…)."))
    return columns
