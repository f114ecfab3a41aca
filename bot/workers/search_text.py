"""At start, after the migration: products without `search_text` (the revision run as
offline SQL, which cannot fold text as Python does, or products an older release added
during a rolling deploy) are folded now, BATCH at a time, so /search finds them."""

from __future__ import annotations

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dao.database import serving_session_factory
from bot.dao.search import fold_missing

BATCH = 500


async def fold_search_text(engine: AsyncEngine) -> None:
    """Startup hook."""
    folded = 0
    session_factory = serving_session_factory(engine)
    while True:
        async with session_factory() as session, session.begin():
            done = await fold_missing(session, BATCH)
        folded += done
        if done < BATCH:
            break
    if folded:
        logger.info("made {} product(s) searchable", folded)
