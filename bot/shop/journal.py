"""The payment journal: an append-only file of JSON lines, each fsynced before it is trusted.

A payment is written here before anything else is tried, marked `done` once it is in the
database and `delivered` once what it must send is in the outbox (in the same transaction as
the purchase, so both marks follow one commit; a refund of a sold-out payment comes between
them); whatever is not delivered when the bot starts (or when the periodic replay looks) is
recorded, if need be, and handed to the outbox then. A line cut short by a crash is skipped:
its payment had not been acknowledged to anyone yet. A line this release cannot read (one
written by another release) is kept as it is for a person to look at, never dropped.

Several processes may share the file (instances on one SQLite database during a rolling
deploy): every append and every compaction holds an exclusive `flock` on `<journal>.lock`.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from loguru import logger

from bot.shop.customers import Customer
from bot.shop.purchases import Payment, Receipt


@dataclass(frozen=True)
class Pending:
    """A journaled payment the buyer may not have got yet; `recorded` when it is known to be
    in the database already."""

    receipt: Receipt
    recorded: bool


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False) + "\n"


def _known_fields(cls: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """What `cls` takes of `values`: a field another release added is ignored, an optional
    one it lacks is None; a required one it lacks makes the line unreadable (KeyError)."""
    taken = {}
    for field in fields(cls):
        optional = "None" in str(field.type)
        taken[field.name] = values.get(field.name) if optional else values[field.name]
    return taken


def _receipt_of(entry: dict[str, Any]) -> Receipt:
    return Receipt(
        update_id=int(entry["update_id"]),
        payer=Customer(**_known_fields(Customer, entry["payer"])),
        payment=Payment(**_known_fields(Payment, entry["payment"])),
    )


class PaymentJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def check_writable(self) -> None:
        """At start: raise OSError if a payment could not be journaled here."""
        with self._locked():
            self._append_bytes(b"")

    async def append(self, receipt: Receipt) -> None:
        await self._write({"paid": asdict(receipt)})

    async def done(self, charge_id: str) -> None:
        await self._write({"done": charge_id})

    async def delivered(self, charge_id: str) -> None:
        await self._write({"delivered": charge_id})

    async def _write(self, entry: dict[str, Any]) -> None:
        await asyncio.to_thread(self._append_line, _line(entry).encode())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield
            finally:
                os.close(descriptor)  # releases the flock

    def _append_line(self, line: bytes) -> None:
        with self._locked():
            self._append_bytes(line)

    def _append_bytes(self, data: bytes) -> None:
        """Append all of `data` and fsync it; on a short write (a full disk) the file is cut
        back to where it was, so no half line is left to glue the next one onto."""
        created = not self.path.exists()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            start = os.fstat(descriptor).st_size
            written = 0
            try:
                while written < len(data):
                    count = os.write(descriptor, data[written:])
                    if count == 0:
                        raise OSError(f"could not write to {self.path}")
                    written += count
                os.fsync(descriptor)
            except OSError:
                os.ftruncate(descriptor, start)
                raise
        finally:
            os.close(descriptor)
        if created:
            _fsync_directory(self.path.parent)

    def pending(self) -> list[Pending]:
        """The journaled payments not marked delivered, in the order they arrived."""
        with self._locked():  # no half-written line of another writer is read
            return self._read()[0]

    def _read(self) -> tuple[list[Pending], list[str]]:
        """The pending payments, and the lines this release cannot read (kept verbatim)."""
        paid: dict[str, Receipt] = {}
        recorded: set[str] = set()
        delivered: set[str] = set()
        unreadable: list[str] = []
        for number, raw, entry in self._entries():
            try:
                if "delivered" in entry:
                    delivered.add(str(entry["delivered"]))
                elif "done" in entry:
                    recorded.add(str(entry["done"]))
                else:
                    receipt = _receipt_of(entry["paid"])
                    paid.setdefault(receipt.payment.charge_id, receipt)
            except (KeyError, TypeError, ValueError):
                logger.error(
                    "payment journal {} line {} is not a payment this release can read; it is "
                    "kept as it is for a person to reconcile: {}",
                    self.path,
                    number,
                    raw.strip(),
                )
                unreadable.append(raw if raw.endswith("\n") else raw + "\n")
        pending = [
            Pending(receipt, recorded=charge in recorded)
            for charge, receipt in paid.items()
            if charge not in delivered
        ]
        return pending, unreadable

    def _entries(self) -> list[tuple[int, str, dict[str, Any]]]:
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
                    entries.append((number, line, entry))
        return entries

    def compact(self) -> list[Pending]:
        """Rewrite the journal with only what is still pending (and the lines this release
        cannot read); return the pending payments."""
        with self._locked():
            pending, unreadable = self._read()
            if not self.path.exists():
                return pending
            lines = unreadable + [
                _line(entry)
                for item in pending
                for entry in (
                    [{"paid": asdict(item.receipt)}]
                    + ([{"done": item.receipt.payment.charge_id}] if item.recorded else [])
                )
            ]
            fresh = self.path.with_name(self.path.name + ".compacting")
            with fresh.open("w", encoding="utf-8") as out:
                out.write("".join(lines))
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
