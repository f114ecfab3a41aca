"""The payment journal file on its own: what a start keeps of it, what it refuses to drop,
and one writer at a time across processes."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

import pytest

from bot.shop.customers import Customer
from bot.shop.journal import PaymentJournal
from bot.shop.purchases import Payment, Receipt


def _receipt(charge: str) -> Receipt:
    payment = Payment("p:1:u:5", 150, "XTR", charge, None)
    return Receipt(update_id=1, payer=Customer(5, None, "Ann", None), payment=payment)


async def test_compaction_keeps_what_is_not_delivered_and_what_it_cannot_read(
    tmp_path: Path,
) -> None:
    journal = PaymentJournal(tmp_path / "payments.journal")
    for charge in ("delivered", "recorded", "paid"):
        await journal.append(_receipt(charge))
    await journal.done("delivered")
    await journal.delivered("delivered")
    await journal.done("recorded")
    foreign = json.dumps({"paid": {"update_id": 9, "payer": {}, "payment": {"x": 1}}})
    with journal.path.open("a") as raw:
        raw.write(foreign + "\n")

    pending = journal.compact()

    assert [(item.receipt.payment.charge_id, item.recorded) for item in pending] == [
        ("recorded", True),
        ("paid", False),
    ]
    kept = journal.path.read_text()
    assert foreign in kept  # for a person to reconcile, never dropped
    assert "delivered" not in kept
    assert [(i.receipt.payment.charge_id, i.recorded) for i in journal.pending()] == [
        ("recorded", True),
        ("paid", False),
    ]


async def test_a_line_of_another_release_with_a_field_more_or_less_is_read(
    tmp_path: Path,
) -> None:
    journal = PaymentJournal(tmp_path / "payments.journal")
    line = {
        "paid": {
            "update_id": 3,
            "payer": {"telegram_id": 5, "first_name": "Ann", "language": "ru"},
            "payment": {
                "payload": "p:1:u:5",
                "amount": 150,
                "currency": "XTR",
                "charge_id": "older",
                "provider_charge_id": None,
                "gateway": "stars",
            },
        }
    }
    journal.path.write_text(json.dumps(line) + "\n")

    [item] = journal.pending()

    assert item.receipt.payment.charge_id == "older"
    assert item.receipt.payer.username is None


def test_a_journal_that_cannot_be_written_is_known_at_start(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises((NotADirectoryError, FileExistsError)):
        PaymentJournal(tmp_path / "a-file" / "payments.journal").check_writable()
    PaymentJournal(tmp_path / "fine" / "payments.journal").check_writable()


async def test_an_append_waits_for_another_process_holding_the_journal(
    tmp_path: Path,
) -> None:
    journal = PaymentJournal(tmp_path / "payments.journal")
    journal.check_writable()
    held = os.open(journal.lock_path, os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)  # as another instance compacting it would
    appended = threading.Event()

    def append() -> None:
        journal._append_line(b'{"done": "x"}\n')
        appended.set()

    writer = threading.Thread(target=append)
    writer.start()
    assert not appended.wait(0.3)  # blocked behind the other holder
    os.close(held)
    assert appended.wait(10)
    writer.join()
    assert journal.path.read_text() == '{"done": "x"}\n'
