"""One burst of new users through the bot's own polling, in a process of its own so that its
peak RSS is the burst's; `bench.burst` runs it and reads the JSON line it prints.

`running_shop`'s bot (real dispatcher, real database, the fake Telegram in-process, no
latency) polls with `Dispatcher.start_polling` as `bot.app` does, `tasks_concurrency_limit`
= UPDATES_IN_FLIGHT (or none: the bound's baseline). getUpdates hands out every user's
/start at once, 100 per call as Telegram does. A user is answered when the bot sent a message
to their chat; the burst ends when all are, or at the deadline.

    .venv/bin/python -m bench._new_users BACKEND DATABASE_URL USERS IN_FLIGHT  # 0: no bound
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench._common import percentile, prepare_process
from tests.support.databases import ThrowawayDatabase
from tests.support.shop import running_shop

FIRST_USER = 200_000
UPDATES_PER_POLL = 100  # Telegram's most per getUpdates
DEADLINE_SECONDS = 600.0


@dataclass(frozen=True)
class NewUsers:
    users: int
    in_flight: int  # 0: no bound
    answered: int
    seconds: float  # from the first update handed out to the last user answered
    p99: float  # seconds from the burst's start to a user's answer
    rss_before_mb: float
    peak_rss_mb: float
    errors: int  # the bot's ERROR lines


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak_rss() -> None:
    """The peak (VmHWM) starts again from the current RSS (Linux's clear_refs)."""
    with suppress(OSError):  # not permitted here: the peak then includes the start-up
        Path("/proc/self/clear_refs").write_text("5")


async def burst(database: ThrowawayDatabase, users: int, in_flight: int) -> NewUsers:
    result: NewUsers | None = None
    try:
        async with running_shop(database) as shop:
            telegram = shop.telegram
            bodies = [
                {"update_id": index, **telegram.text_update(FIRST_USER + index, "/start")}
                for index in range(1, users + 1)
            ]
            started: float | None = None

            async def get_updates(params: dict[str, Any]) -> list[dict[str, Any]]:
                nonlocal started
                offset = int(params.get("offset") or 0)
                batch = [body for body in bodies if body["update_id"] >= offset]
                if not batch:
                    await asyncio.sleep(0.05)  # nothing left: a short long poll
                    return []
                if started is None:
                    _reset_peak_rss()
                    started = time.monotonic()
                return batch[:UPDATES_PER_POLL]

            telegram.handle("getUpdates", get_updates)
            rss_before = _rss_mb("VmRSS")
            polling = asyncio.create_task(
                shop.dispatcher.start_polling(
                    shop.bot,
                    handle_signals=False,
                    close_bot_session=False,
                    tasks_concurrency_limit=in_flight or None,
                )
            )
            answered_at: dict[int, float] = {}
            deadline = time.monotonic() + DEADLINE_SECONDS
            while len(answered_at) < users and time.monotonic() < deadline:
                if polling.done():  # it stopped by itself: its error says why
                    await polling
                await asyncio.sleep(0.05)
                for call in telegram.calls_of("sendMessage"):
                    answered_at.setdefault(int(call.params["chat_id"]), call.at)
            if not polling.done():
                await shop.dispatcher.stop_polling()
            await polling
            first = started if started is not None else time.monotonic()
            times = [at - first for at in answered_at.values()] or [0.0]
            result = NewUsers(
                users=users,
                in_flight=in_flight,
                answered=len(answered_at),
                seconds=max(times),
                p99=percentile(times, 0.99),
                rss_before_mb=rss_before,
                peak_rss_mb=_rss_mb("VmHWM"),
                errors=sum(line.startswith("ERROR") for line in shop.log),
            )
    except AssertionError:  # running_shop's check of the log: the errors are counted above
        if result is None:
            raise
    assert result is not None
    return result


def main() -> None:
    backend, url, users, in_flight = sys.argv[1:5]
    prepare_process()
    database = ThrowawayDatabase(backend, make_url(url))
    result = asyncio.run(burst(database, int(users), int(in_flight)))
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
