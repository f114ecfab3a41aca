"""Sends at a steady pace: Telegram takes about 30 messages a second from a bot, and answers a
burst past that with 429s, which stall every other send until `retry_after` has passed."""

from __future__ import annotations

import asyncio


class Pace:
    """At most `per_second` sends per second from this process, in turn."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0

    async def turn(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        slot = max(loop_now, self._next)
        self._next = slot + self.interval
        if slot > loop_now:
            await asyncio.sleep(slot - loop_now)
