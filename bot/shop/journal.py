"""The payment journal: an append-only file of JSON lines, each fsynced before it is trusted.

A payment is written here before anything else is tried, and marked done once it is in the
database; whatever is not marked done when the bot starts is recorded then. A line cut short
by a crash is skipped: its payment had not been acknowledged to anyone yet.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loguru import logger

from bot.shop.customers import Customer
from bot.shop.payments import Payment, Receipt


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False) + "\n"


def _receipt_of(entry: dict[str, Any]) -> Receipt:
    return Receipt(
        update_id=int(entry["update_id"]),
        payer=Customer(**entry["payer"]),
        payment=Payment(**entry["payment"]),
    )


class PaymentJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    async def append(self, receipt: Receipt) -> None:
        await self._write({"paid": asdict(receipt)})

    async def done(self, charge_id: str) -> None:
        await self._write({"done": charge_id})

    async def _write(self, entry: dict[str, Any]) -> None:
        await asyncio.to_thread(self._append_line, _line(entry).encode())

    def _append_line(self, line: bytes) -> None:
        with self._lock:
            created = not self.path.exists()
            if created:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if created:
                _fsync_directory(self.path.parent)

    def pending(self) -> list[Receipt]:
        """The journaled payments not marked done, in the order they arrived."""
        paid: dict[str, Receipt] = {}
        done: set[str] = set()
        for number, entry in self._entries():
            try:
                if "done" in entry:
                    done.add(str(entry["done"]))
                else:
                    receipt = _receipt_of(entry["paid"])
                    paid.setdefault(receipt.payment.charge_id, receipt)
            except (KeyError, TypeError, ValueError):
                logger.error(
                    "payment journal {} line {} is not a payment: {}", self.path, number, entry
                )
        return [receipt for charge, receipt in paid.items() if charge not in done]

    def _entries(self) -> list[tuple[int, dict[str, Any]]]:
        if not self.path.exists():
            return []
        entries = []
        with self.path.open(encoding="utf-8", errors="replace") as journal:
            for number, line in enumerate(journal, start=1):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning(
                        "payment journal {} line {} is cut short; skipped", self.path, number
                    )
                    continue
                if isinstance(entry, dict):
                    entries.append((number, entry))
        return entries

    def compact(self) -> list[Receipt]:
        """Rewrite the journal with only the pending payments (at start, before any append);
        return them."""
        pending = self.pending()
        if not self.path.exists():
            return pending
        lines = "".join(_line({"paid": asdict(receipt)}) for receipt in pending)
        fresh = self.path.with_name(self.path.name + ".compacting")
        with fresh.open("w", encoding="utf-8") as out:
            out.write(lines)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(fresh, 0o600)
        fresh.replace(self.path)
        _fsync_directory(self.path.parent)
        return pending


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
