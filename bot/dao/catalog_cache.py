"""What the customer's catalog screens read, kept in the process for a moment.

Nearly every update a shop serves is a catalog screen (the categories, a page of a category,
a product card), and each read the same few rows from the database: a round trip and the
ORM's work, for rows that change when an admin edits the catalog. Kept here, a screen costs
no database work while its rows are fresh.

How fresh, and the guarantees:
- A change committed by this process (an admin's edit, a late payment restoring a product, a
  migration) is seen at once: its commit empties the cache (`watch`).
- A change committed elsewhere (another instance behind the balancer, SQL by hand) is seen
  within CATALOG_CACHE_SECONDS: no entry is kept longer. That is within what a read replica
  may lag already (READ_REPLICA_MAX_LAG), and the catalog only shows: buying, paying and
  delivering read the database, so an order always meets the product as it is.
- A read that overlapped an emptying is handed to its caller but not kept, so what the cache
  holds was read after the last change it heard of.
- Entries are immutable views (`bot.dao.catalog`), shared by every update that reads them.
- Stock counts are not kept: they change with every sale and are read for each screen.
- Whether any promo code is on (a card's 🏷) is kept as the catalog is.
- A card's review summary is kept as the card is: a review written here empties the cache;
  a refund (which takes its purchase's review out of the count) shows within the second.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import UpdateBase

from bot.dao.models import Category, Product, PromoCode, Review
from bot.dao.statement_events import on_each_statement

T = TypeVar("T")

CATALOG_CACHE_SECONDS = 1.0
# Keys come from buttons, which a client may forge: a bound on what they can make us keep.
CATALOG_CACHE_ENTRIES = 4096
CATALOG_TABLES = frozenset(
    {Category.__tablename__, Product.__tablename__, Review.__tablename__, PromoCode.__tablename__}
)
# In a pooled connection's info: it wrote the catalog in the transaction under way, and
# then it committed that (until it is given back to the pool).
_CHANGED_CATALOG = "shopbot_changed_catalog"
_COMMITTED_CATALOG = "shopbot_committed_catalog"


class CatalogCache:
    """Values by key, each kept `seconds` at most, all dropped by `empty`."""

    def __init__(
        self,
        seconds: float = CATALOG_CACHE_SECONDS,
        entries: int = CATALOG_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.entries = entries
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, object]] = {}  # key: (read at, value)
        self._emptied = 0  # how many times the cache was emptied: a read spanning one is stale

    async def read(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The value kept under `key` while fresh; otherwise what `load` reads, kept."""
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.seconds:
            return cast(T, kept[1])
        emptied = self._emptied
        value = await load()
        if emptied == self._emptied:
            self._kept.pop(key, None)  # re-inserted last: the oldest entries go first
            self._kept[key] = (now, value)
            if len(self._kept) > self.entries:
                del self._kept[next(iter(self._kept))]
        return value

    def empty(self) -> None:
        self._kept.clear()
        self._emptied += 1

    def watch(self, engine: AsyncEngine) -> None:
        """Empty the cache when a transaction on `engine` that wrote the catalog commits:
        as the commit is sent, and again once its connection is given back, so that nothing
        read while the commit was under way is kept."""
        sync_engine = engine.sync_engine

        def _executed(connection: Connection, statement: object | None) -> None:
            if _writes_catalog(statement):
                connection.info[_CHANGED_CATALOG] = True

        on_each_statement(engine, "after_cursor_execute", _executed)

        @event.listens_for(sync_engine, "commit")
        def _committing(connection: Connection) -> None:
            if connection.info.pop(_CHANGED_CATALOG, False):
                connection.info[_COMMITTED_CATALOG] = True
                self.empty()

        @event.listens_for(sync_engine, "rollback")
        def _rolled_back(connection: Connection) -> None:
            if not connection.invalidated:  # else its info is out of reach, and goes with it
                connection.info.pop(_CHANGED_CATALOG, None)

        # Any: the driver's connection is untyped.
        @event.listens_for(sync_engine.pool, "checkin")
        def _given_back(_dbapi_connection: Any, record: ConnectionPoolEntry | None) -> None:
            if record is not None and record.info.pop(_COMMITTED_CATALOG, False):
                self.empty()


async def kept_in(
    catalog: CatalogCache | None, key: Hashable, read: Callable[[], Awaitable[T]]
) -> T:
    """What `read` returns, kept in `catalog` under `key` when there is one."""
    return await read() if catalog is None else await catalog.read(key, read)


def _writes_catalog(statement: object | None) -> bool:
    """An INSERT, UPDATE or DELETE of a catalog table (ORM flushes included)."""
    return isinstance(statement, UpdateBase) and (
        getattr(statement.table, "name", None) in CATALOG_TABLES
    )
