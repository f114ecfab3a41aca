"""What only a process shows about a payment in flight, on a real SQLite file and real
PostgreSQL: SIGTERM while the payment waits on a busy database (the process waits for it, then
exits 0 with it recorded and delivered), SIGKILL after the payment was journaled but before
the database took it (the next start records and delivers it, once), SIGKILL after the
purchase was committed but before its goods were sent (the next start's outbox sends them),
and a payment that arrives while PostgreSQL restarts (recorded once it is back)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.shop.invoices import build_payload
from tests.fakes.bot_api import FakeBotAPI
from tests.migrations_testonly.living_shop import open_shop, shop_rows
from tests.support.databases import ThrowawayDatabase, database_locked, fetch_all
from tests.support.processes import WEBHOOK_SECRET, BotProcess, bot_env, free_port, webhook_settings
from tests.support.replica import Database, ReplicaPair
from tests.support.waiting import eventually

BUYER = 7_500_001
PRODUCT, PRICE = 1, 150  # living_shop's product 1: 150 Stars, on sale
CHARGE = "charge-in-flight"
DELIVERED = "the secret of product 1"


@contextmanager
def database_busy(database: ThrowawayDatabase) -> Iterator[None]:
    """Another connection holds purchases (on SQLite: the one write lock) until the block
    ends; it lives in a thread of its own, as another program's would."""
    held, release = threading.Event(), threading.Event()

    async def hold() -> None:
        async with database_locked(database):
            held.set()
            await asyncio.to_thread(release.wait)

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert held.wait(30), "could not lock the database"
        yield
    finally:
        release.set()
        holder.join(30)


def _env(database: ThrowawayDatabase, fake_api: FakeBotAPI, journal: Path) -> dict[str, str]:
    return bot_env(
        database,
        api_url=fake_api.url,
        PAYMENTS_JOURNAL=str(journal),
        PAYMENT_RETRY_WINDOW="120",
        SHUTDOWN_TIMEOUT="60",
    )


def _pay(fake_api: FakeBotAPI) -> None:
    fake_api.push_update(
        fake_api.payment_update(
            BUYER,
            currency="XTR",
            total_amount=PRICE,
            payload=build_payload(PRODUCT, BUYER),
            charge_id=CHARGE,
        )
    )


def _journaled(journal: Path) -> None:
    eventually(lambda: journal.exists() and CHARGE in journal.read_text(), bool, timeout=60)


def _purchases(database: ThrowawayDatabase) -> list[tuple]:
    return fetch_all(database, "SELECT charge_id FROM purchases WHERE charge_id = :c", c=CHARGE)


def _delivered(fake_api: FakeBotAPI) -> list[str]:
    return [
        str(call.params["text"])
        for call in fake_api.calls_of("sendMessage")
        if int(call.params["chat_id"]) == BUYER and DELIVERED in str(call.params["text"])
    ]


def test_sigterm_waits_for_a_payment_in_flight(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    open_shop(database, shop_rows(purchases=0))
    journal = tmp_path / "payments.journal"
    with BotProcess([], _env(database, fake_api, journal), tmp_path) as bot:
        fake_api.wait_for("getUpdates", timeout=60)
        with database_busy(database):
            _pay(fake_api)
            _journaled(journal)
            os.kill(bot.pid, signal.SIGTERM)
            bot.wait_for_output("payment(s) in progress")
            assert bot.poll() is None  # still there, waiting for the payment
        assert bot.wait(90) == 0, bot.output

    assert _purchases(database) == [(CHARGE,)]
    assert len(_delivered(fake_api)) == 1


def test_a_payment_killed_before_the_database_took_it_is_recorded_at_the_next_start(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    open_shop(database, shop_rows(purchases=0))
    journal = tmp_path / "payments.journal"
    env = _env(database, fake_api, journal)
    with BotProcess([], env, tmp_path) as killed:
        fake_api.wait_for("getUpdates", timeout=60)
        with database_busy(database):
            _pay(fake_api)
            _journaled(journal)
            assert killed.stop(signal.SIGKILL) == -signal.SIGKILL
    assert _purchases(database) == []

    with BotProcess([], env, tmp_path) as restarted:
        fake_api.wait_for(
            "sendMessage", lambda call: DELIVERED in str(call.params.get("text")), timeout=60
        )
        assert restarted.stop() == 0, restarted.output

    assert _purchases(database) == [(CHARGE,)]
    assert len(_delivered(fake_api)) == 1
    assert "Traceback" not in restarted.output


def test_a_purchase_killed_after_its_commit_is_delivered_after_the_restart(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    """SIGKILL while the goods are on their way: the purchase and its outbox row are
    committed, the first message hangs in Telegram. The next start sends them once the
    killed process's claim has run out (DELIVERY_LEASE)."""
    open_shop(database, shop_rows(purchases=0))
    env = {**_env(database, fake_api, tmp_path / "payments.journal"), "DELIVERY_LEASE": "5"}
    with BotProcess([], env, tmp_path) as killed:
        fake_api.wait_for("getUpdates", timeout=60)
        fake_api.set_latency(120, "sendMessage")
        _pay(fake_api)
        fake_api.wait_for("sendMessage", lambda call: int(call.params["chat_id"]) == BUYER)
        assert killed.stop(signal.SIGKILL) == -signal.SIGKILL
    fake_api.set_latency(0, "sendMessage")
    assert _purchases(database) == [(CHARGE,)]
    assert _delivered(fake_api) == []

    with BotProcess([], env, tmp_path) as restarted:
        fake_api.wait_for(
            "sendMessage", lambda call: DELIVERED in str(call.params.get("text")), timeout=60
        )
        assert restarted.stop() == 0, restarted.output

    assert len(_delivered(fake_api)) == 1
    assert "Traceback" not in restarted.output


@pytest.mark.slow
def test_a_payment_while_postgresql_restarts_is_recorded_once_it_is_back(
    replicated: Database, fake_api: FakeBotAPI, pair: ReplicaPair, tmp_path: Path
) -> None:
    database = replicated.primary
    open_shop(database, shop_rows(purchases=0))
    journal = tmp_path / "payments.journal"
    with BotProcess([], _env(database, fake_api, journal), tmp_path) as bot:
        fake_api.wait_for("getUpdates", timeout=60)
        with pair.primary_stopped():
            _pay(fake_api)
            _journaled(journal)
            bot.wait_for_output("database busy while recording")
        fake_api.wait_for(
            "sendMessage", lambda call: DELIVERED in str(call.params.get("text")), timeout=90
        )
        assert bot.stop() == 0, bot.output

    assert _purchases(database) == [(CHARGE,)]
    assert len(_delivered(fake_api)) == 1
    assert "Traceback" not in bot.output


def test_webhook_answers_a_payment_only_once_taken_and_sigterm_lets_it_finish(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    """Telegram keeps an update until the webhook answers 200: the answer comes after the
    payment is recorded, even when SIGTERM arrives meanwhile."""
    open_shop(database, shop_rows(purchases=0))
    journal = tmp_path / "payments.journal"
    port = free_port()
    env = {
        **_env(database, fake_api, journal),
        **webhook_settings(port),
    }
    payment = fake_api.payment_update(
        BUYER,
        currency="XTR",
        total_amount=PRICE,
        payload=build_payload(PRODUCT, BUYER),
        charge_id=CHARGE,
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram/webhook",
        json.dumps({"update_id": 1, **payment}).encode(),
        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        method="POST",
    )
    with BotProcess([], env, tmp_path) as bot, ThreadPoolExecutor(1) as telegram:
        fake_api.wait_for("setWebhook", timeout=60)
        bot.wait_for_output("listening for webhook updates")
        with database_busy(database):
            posted = telegram.submit(_status_of, request)
            _journaled(journal)
            os.kill(bot.pid, signal.SIGTERM)
            bot.wait_for_output("stopping: new webhook updates get 503")
            assert not posted.done(), bot.output  # not answered while the payment waits
        assert posted.result(timeout=60) == 200
        assert bot.wait(90) == 0, bot.output

    assert _purchases(database) == [(CHARGE,)]
    assert len(_delivered(fake_api)) == 1


def _status_of(request: urllib.request.Request) -> int:
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)
