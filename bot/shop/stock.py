"""Stock products: loading units (from the admin's messages, a document or the command line),
what the catalog says about stock, and reserving a unit for a payer.

A unit is reserved at pre-checkout, not when the invoice is sent: an invoice costs nothing
and may never be paid, while the pre-checkout query comes seconds before the payment. The
reservation lasts STOCK_RESERVATION_SECONDS; the payment then sells that unit, or any free
one if the reservation expired (see `bot.dao.stock`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.dao.catalog import ShownProduct
from bot.dao.models import KIND_STOCK, UNIT_TEXT_MAX, Product
from bot.i18n import _, ngettext
from bot.shop.restock import notify_restock
from bot.shop.services import Shop

# Admins send units as a .txt or .csv document (one per line); a bigger file is refused.
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024  # what the Bot API lets a bot download
DOCUMENT_SUFFIXES = (".txt", ".csv")


@dataclass(frozen=True)
class UnitLines:
    """The units in a text, one per line, each once, with what was left out."""

    units: list[str]
    blank: int
    repeated: int  # lines repeating an earlier line of the same text
    too_long: int


@dataclass(frozen=True)
class StockLoad:
    added: int
    duplicates: int  # repeated in the text, or already in the product
    blank: int
    too_long: int
    told: int = 0  # customers who waited for the product, each sent a restock notice

    def describe(self) -> str:
        """One line, e.g. "added 998, skipped 2 duplicates; 3 customers will be told", in the
        current language (English on the command line)."""
        parts = [ngettext("added {count}", "added {count}", self.added).format(count=self.added)]
        if self.duplicates:
            skipped = ngettext(
                "skipped {count} duplicate", "skipped {count} duplicates", self.duplicates
            )
            parts.append(skipped.format(count=self.duplicates))
        if self.blank:
            skipped = ngettext(
                "skipped {count} blank line", "skipped {count} blank lines", self.blank
            )
            parts.append(skipped.format(count=self.blank))
        if self.too_long:
            skipped = ngettext(
                "skipped {count} line over {limit} characters",
                "skipped {count} lines over {limit} characters",
                self.too_long,
            )
            parts.append(skipped.format(count=self.too_long, limit=UNIT_TEXT_MAX))
        text = ", ".join(parts)
        if not self.told:
            return text
        told = ngettext(
            "{count} customer will be told", "{count} customers will be told", self.told
        )
        return f"{text}; {told.format(count=self.told)}"


def now() -> datetime:
    return datetime.now(UTC)


def is_stock(product: ShownProduct) -> bool:
    return product.kind == KIND_STOCK


def split_units(text: str) -> UnitLines:
    """One unit per line, stripped; blank lines, repeated lines and lines over the limit are
    left out and counted."""
    units: list[str] = []
    seen: set[str] = set()
    blank = repeated = too_long = 0
    for line in text.splitlines():
        unit = line.strip()
        if not unit:
            blank += 1
        elif len(unit) > UNIT_TEXT_MAX:
            too_long += 1
        elif unit in seen:
            repeated += 1
        else:
            seen.add(unit)
            units.append(unit)
    return UnitLines(units=units, blank=blank, repeated=repeated, too_long=too_long)


def decode_document(data: bytes) -> str:
    """A document's text (UTF-8, with or without a BOM), or ValueError saying what to send (in
    the admin's language: it is shown to them)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(
            _("This file is not UTF-8 text: send a .txt or .csv file, one unit per line.")
        ) from None


async def load_units(shop: Shop, product_id: int, text: str) -> StockLoad:
    """Add the units in `text` to the product (a unit it already has is skipped), and tell
    the customers waiting for it that it is back."""
    lines = split_units(text)
    # Locked before the units go in, as a payment locks it: the restock notices need the
    # lock, and asking for it after the inserts (which hold a key-share lock on the row)
    # could deadlock with a payment or another load waiting for it meanwhile.
    await shop.products.get(product_id, deleted_too=True, lock=True)
    added = await shop.stock.add(product_id, lines.units)
    return StockLoad(
        added=added,
        duplicates=lines.repeated + len(lines.units) - added,
        blank=lines.blank,
        too_long=lines.too_long,
        told=await notify_restock(shop, product_id) if added else 0,
    )


async def in_stock(shop: Shop, products: Sequence[ShownProduct]) -> dict[int, int]:
    """How many units each stock product among these has free (unlimited ones left out)."""
    stock_ids = [product.id for product in products if is_stock(product)]
    counts = await shop.stock.available(stock_ids, now()) if stock_ids else {}
    return {product_id: counts.get(product_id, 0) for product_id in stock_ids}


def stock_label(available: int) -> str:
    """How many free units the catalog shows: "3 in stock", or "sold out"."""
    if not available:
        return _("sold out")
    return ngettext("{count} in stock", "{count} in stock", available).format(count=available)


async def reserve_unit(shop: Shop, product: Product, payer_id: int, seconds: float) -> bool:
    """Hold a unit of a stock product for this payer; False when none is free."""
    moment = now()
    until = moment + timedelta(seconds=seconds)
    return await shop.stock.reserve(product.id, payer_id, moment, until)
