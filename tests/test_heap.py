"""Start-up's heap frozen once the bot is ready (bot.serving.heap): its garbage is collected first,
and what is left is no longer scanned by the collector."""

from __future__ import annotations

import gc
import weakref

from bot.serving.heap import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


async def test_start_up_garbage_is_collected_and_the_rest_frozen() -> None:
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    kept = Node()
    try:
        await freeze_startup_heap()
        assert gone() is None
        assert not any(tracked is kept for tracked in gc.get_objects())  # frozen: not scanned
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual
    assert any(tracked is kept for tracked in gc.get_objects())
