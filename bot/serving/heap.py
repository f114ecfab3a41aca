"""What start-up built, kept out of the garbage collector's way while serving.

By the end of start-up the process holds a few hundred thousand objects that live as long as
it does: aiogram's pydantic types, SQLAlchemy's mappers and statement caches, the routers, the
translations. CPython's full collections scan them all, every time: about 0.2 s on this kind of
machine, once every few hundred updates, a pause for every update in flight, and a quarter of
a millisecond per update on average (`bench.updates`). Frozen once the bot is ready to serve,
they are never scanned again; what updates allocate is collected as before.
"""

from __future__ import annotations

import gc


async def freeze_startup_heap() -> None:
    """Collect start-up's garbage, then freeze what is left (`gc.freeze`). Call once, when
    start-up is done: anything frozen is never collected, even once it becomes garbage.
    A coroutine so that it runs as a start-up hook on the loop's thread, not in a worker."""
    gc.collect()
    gc.freeze()
