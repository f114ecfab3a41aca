"""Sends at a steady pace: Telegram takes about 30 messages a second from a bot, and answers a
burst past that with 429s, which stall every other send until `retry_after` has passed."""

from __future__ import annotations

import asyncio

# A turn taken up to this late (timers overshoot, the loop is busy) keeps the schedule, so
# the next ones come sooner and the rate holds; later than that, the schedule starts again
# (no burst after a pause). At most this long of turns ever go at once.
CATCH_UP = 0.05


class Pace:
    """At most `per_second` sends per second from this process, in turn."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._held_until = 0.0

    async def turn(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            slot = self._next if self._next >= now - CATCH_UP else now
            self._next = slot + self.interval
            if slot > loop.time():
                await asyncio.sleep(slot - loop.time())
            if slot >= self._held_until:
                return
            # Held while it waited (a 429): take a turn after the hold instead.

    def give_way(self) -> None:
        """A send that did not wait for its turn (goods, a sale notice) took the next one."""
        self._next = max(self._next, asyncio.get_running_loop().time()) + self.interval

    def hold(self, seconds: float) -> None:
        """No turn for `seconds` (Telegram's `retry_after`): every sender waiting slows."""
        self._held_until = max(self._held_until, asyncio.get_running_loop().time() + seconds)
        self._next = max(self._next, self._held_until)
