"""A broadcast is resumable, on a real SQLite file and real PostgreSQL: `python main.py`
SIGKILLed mid-broadcast (some messages answered by Telegram and recorded, the next ones on
their way but never reaching it) and started again carries on once the killed sender's lease
runs out (DELIVERY_LEASE): nobody gets the message twice, nobody is skipped, and the admin
gets the final report once."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.pool import NullPool

from bot.dao.broadcasts import AUDIENCE_ALL, Audience, BroadcastDAO
from bot.dao.database import create_engine, create_session_factory
from bot.shop.stock import now
from tests.fakes.bot_api import FakeBotAPI
from tests.migrations_testonly.living_shop import open_shop
from tests.support.databases import ThrowawayDatabase, fetch_all
from tests.support.processes import TEST_TOKEN, BotProcess, bot_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

ADMIN = 9_400_001  # in ADMIN_IDS; not among the users, so the broadcast does not go to them
USERS = [7_400_001 + number for number in range(60)]
DELIVERED_FIRST = 20  # messages Telegram answers before the first process is killed
TEXT = "Flash sale: 30% off everything"
DONE = "is done"


def _send_off(database: ThrowawayDatabase, report_message_id: int) -> int:
    """The admin's broadcast to everyone, sent off (its audience queued) in one transaction,
    as the Send button does; its id."""

    async def run() -> int:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            async with create_session_factory(engine)() as session, session.begin():
                broadcasts = BroadcastDAO(session)
                broadcast = await broadcasts.create(ADMIN, Audience(AUDIENCE_ALL), text=TEXT)
                total = await broadcasts.send_off(
                    broadcast.id,
                    now(),
                    "en",
                    report_chat_id=ADMIN,
                    report_message_id=report_message_id,
                    paid=False,
                )
                assert total == len(USERS)
                return broadcast.id
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _report_message(fake_api: FakeBotAPI) -> int:
    """The admin's message the progress is edited into (the bot sent it when Send was
    pressed); its id."""
    request = urllib.request.Request(
        f"{fake_api.url}/bot{TEST_TOKEN}/sendMessage",
        json.dumps({"chat_id": ADMIN, "text": "Broadcast is being sent"}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.loads(response.read())["result"]["message_id"])


def _recipients(database: ThrowawayDatabase, broadcast_id: int) -> Counter[str]:
    """The broadcast's recipients by state."""
    rows = fetch_all(
        database,
        "SELECT state, count(*) FROM broadcast_recipients WHERE broadcast_id = :b GROUP BY state",
        b=broadcast_id,
    )
    return Counter({str(state): int(count) for state, count in rows})


def _state(database: ThrowawayDatabase, broadcast_id: int) -> str:
    [(state,)] = fetch_all(database, "SELECT state FROM broadcasts WHERE id = :b", b=broadcast_id)
    return str(state)


def _received(fake_api: FakeBotAPI) -> Counter[int]:
    """How many messages with the broadcast's text each user's chat shows."""
    return Counter(
        {
            user: count
            for user in USERS
            if (count := sum(TEXT in str(m.get("text")) for m in fake_api.messages_in(user)))
        }
    )


def test_a_broadcast_killed_midway_carries_on_at_the_next_start_once_for_everyone(
    database: ThrowawayDatabase, fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    open_shop(
        database, {"users": [{"id": n, "telegram_id": user} for n, user in enumerate(USERS, 1)]}
    )
    report_id = _report_message(fake_api)
    broadcast_id = _send_off(database, report_id)
    env = bot_env(
        database,
        api_url=fake_api.url,
        ADMIN_IDS=str(ADMIN),
        BROADCAST_RATE="20",
        DELIVERY_LEASE="5",
    )

    # Telegram answers the first DELIVERED_FIRST messages, then freezes: the next ones are
    # on their way when the process is killed, and never arrive.
    fake_api.hold_after("sendMessage", DELIVERED_FIRST)
    with BotProcess([], env, tmp_path) as killed:
        eventually(lambda: fake_api.held, bool, timeout=60)
        eventually(
            lambda: _recipients(database, broadcast_id),
            lambda seen: seen["sent"] == DELIVERED_FIRST,
        )
        assert killed.stop(signal.SIGKILL) == -signal.SIGKILL
    # What was on its way is dropped as its connections close: it never reached Telegram.
    eventually(lambda: fake_api.held, lambda held: held == 0)
    assert fake_api.dropped >= 1
    assert sum(_received(fake_api).values()) == DELIVERED_FIRST
    assert _recipients(database, broadcast_id) == Counter(
        sent=DELIVERED_FIRST, pending=len(USERS) - DELIVERED_FIRST
    )
    assert _state(database, broadcast_id) == "sending"
    fake_api.open_gate()

    with BotProcess([], env, tmp_path) as restarted:
        eventually(
            lambda: _state(database, broadcast_id), lambda state: state == "done", timeout=60
        )
        fake_api.wait_for("sendMessage", lambda call: DONE in str(call.params.get("text")))
        assert restarted.stop() == 0, restarted.output

    left = len(USERS) - DELIVERED_FIRST
    assert f"sending broadcast #{broadcast_id} to {left} user(s) left of {len(USERS)}" in (
        restarted.output
    )
    assert _received(fake_api) == Counter(dict.fromkeys(USERS, 1))
    assert _recipients(database, broadcast_id) == Counter(sent=len(USERS))
    # The final report: once as a message, and in the admin's progress message.
    admin_messages = fake_api.messages_in(ADMIN)
    reports = [m for m in admin_messages if m["message_id"] != report_id and DONE in m["text"]]
    assert len(reports) == 1, admin_messages
    assert f"Sent: {len(USERS)} · failed: 0 · blocked the bot: 0 · left: 0" in reports[0]["text"]
    [progress] = [m for m in admin_messages if m["message_id"] == report_id]
    assert DONE in progress["text"], progress
    assert "Traceback" not in restarted.output
