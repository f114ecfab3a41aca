"""Bursts of new users with a slow Bot API, five payments inside: every user is answered and
every payment recorded, because no transaction waits on Telegram (150 users with 0.3 s of
latency on SQLite, 200 with 1.5 s on PostgreSQL, as in issue 10)."""

from __future__ import annotations

from tests.support.burst import run_burst
from tests.support.databases import ThrowawayDatabase

BURSTS = {"sqlite": (150, 0.3), "postgresql": (200, 1.5)}


async def test_a_burst_of_new_users_is_answered_and_its_payments_recorded(
    database: ThrowawayDatabase,
) -> None:
    users, latency = BURSTS[database.backend]

    result = await run_burst(database, users=users, latency=latency, payments=5)

    assert result.errors == []
    assert result.answered == users
    assert result.recorded == 5
