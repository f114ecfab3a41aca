"""Waiting with backoff, for the migrator's three waits: the database to answer, the migration
lock, and (for `--no-migrate`) the schema to reach head.

Each wait reports progress at once and then every `REPORT_INTERVAL` seconds, raises the
caller's error when its timeout passes, and ends at once on SIGTERM or SIGINT: nothing has been
changed while we only wait, and during the bot's start-up the dispatcher owns those signals and
would otherwise let the wait run to its timeout before stopping.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TypeVar

from bot.errors import InterruptedWaitError, StartupError

REPORT_INTERVAL = 5.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    first: float
    cap: float

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.cap)


@dataclass
class _StopRequest:
    received: signal.Signals | None = None

    def honour(self, waiting_for: str) -> None:
        if self.received is not None:
            received, self.received = self.received, None
            raise InterruptedWaitError.for_signal(received, waiting_for)


@contextmanager
def _stop_on_signals() -> Iterator[_StopRequest]:
    """Catch SIGTERM and SIGINT for the duration of a wait, then give the handlers back.

    `signal.signal` leaves the event loop's wakeup fd alone, so a handler the loop registered
    (aiogram's stop) still runs as well. A signal that arrives as the wait succeeds is raised
    again for the previous handler, so it is never lost."""
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def record(signum: int, _frame: FrameType | None) -> None:
        stop.received = signal.Signals(signum)

    previous = {sig: signal.getsignal(sig) for sig in _STOP_SIGNALS}
    for sig in _STOP_SIGNALS:
        signal.signal(sig, record)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    if stop.received is not None:
        signal.raise_signal(stop.received)


async def wait_until(
    attempt: Callable[[], Awaitable[T | None]],
    *,
    waiting_for: str,
    timeout: float,
    backoff: Backoff,
    report: Callable[[float], Awaitable[None]],
    expired: Callable[[float], Awaitable[StartupError]],
) -> tuple[T, float]:
    """Call `attempt` until it returns something other than None; return that and the seconds
    waited. `report(waited)` logs progress; `expired(waited)` builds the timeout error."""
    started = time.monotonic()
    next_report = started
    delays = backoff.delays()
    with _stop_on_signals() as stop:
        while True:
            result = await attempt()
            if result is not None:
                return result, time.monotonic() - started
            stop.honour(waiting_for)
            now = time.monotonic()
            waited = now - started
            if waited >= timeout:
                raise await expired(waited)
            if now >= next_report:
                await report(waited)
                next_report = now + REPORT_INTERVAL
            await asyncio.sleep(min(next(delays), timeout - waited))
            stop.honour(waiting_for)
