"""The migrator's waits (bot/migration/waiting.py) with real signals sent to this process: SIGTERM
ends a wait at once, the previous handlers come back, and a signal that arrives just as the wait
succeeds is handed on rather than lost."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import TypeVar

import pytest

from bot.errors import InterruptedWaitError, SchemaError
from bot.migration.errors import LockTimeoutError
from bot.migration.waiting import Backoff, wait_until

FAST = Backoff(first=0.01, cap=0.01)
T = TypeVar("T")


@pytest.fixture
def previous_handler() -> Iterator[list[int]]:
    """A SIGTERM handler standing for whoever had it before the wait (aiogram, the default)."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield received
        assert signal.getsignal(signal.SIGTERM) is handler  # the wait gave it back
    finally:
        signal.signal(signal.SIGTERM, before)


async def _no_report(_waited: float) -> None:
    pass


async def _lock_timeout(_waited: float) -> SchemaError:
    return LockTimeoutError("timed out")


async def _wait(
    attempt: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 600,
    report: Callable[[float], Awaitable[None]] = _no_report,
) -> T:
    result, _ = await wait_until(
        attempt,
        waiting_for="the migration lock",
        timeout=timeout,
        backoff=FAST,
        report=report,
        expired=_lock_timeout,
    )
    return result


async def test_sigterm_ends_the_wait_at_once(previous_handler: list[int]) -> None:
    async def attempt() -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(InterruptedWaitError) as raised:
        await _wait(attempt)
    assert str(raised.value) == (
        "stopped by SIGTERM while waiting for the migration lock; nothing was changed"
    )
    assert raised.value.exit_code == 128 + signal.SIGTERM
    assert previous_handler == []  # acted on, so not handed on


async def test_a_signal_as_the_wait_succeeds_is_handed_on(previous_handler: list[int]) -> None:
    async def attempt() -> str:
        os.kill(os.getpid(), signal.SIGTERM)
        return "got it"

    assert await _wait(attempt) == "got it"
    assert previous_handler == [signal.SIGTERM]


async def test_timeout_raises_the_callers_error_after_reporting(
    previous_handler: list[int],
) -> None:
    reports: list[float] = []

    async def report(waited: float) -> None:
        reports.append(waited)

    async def attempt() -> None:
        return None

    with pytest.raises(LockTimeoutError, match="timed out"):
        await _wait(attempt, timeout=0.05, report=report)
    assert reports  # the first miss is reported at once, not after REPORT_INTERVAL
    assert previous_handler == []
