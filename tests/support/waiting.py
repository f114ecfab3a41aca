"""Polling instead of sleeping: wait until a condition holds, or fail saying what was seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], accept: Callable[[T], bool], *, timeout: float = 15.0) -> T:
    """Call `probe` until `accept` approves its result; return that result."""
    deadline = time.monotonic() + timeout
    while True:
        seen = probe()
        if accept(seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last seen: {seen!r}")
        time.sleep(0.05)
