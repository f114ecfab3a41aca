"""Sessions that read apart until they write.

An update's session sends its reads to the engine chosen for them (a replica, or the same
database with no transaction around the reads), and everything else to the primary: inserts,
updates, deletes, ORM flushes, locking reads (`FOR UPDATE`) and text statements (which may
write). Once a session has used the primary it stays there, so it reads back what it wrote.
Reads before the first write are thus not in the write's transaction: what the code already
assumes on PostgreSQL, where a plain read in READ COMMITTED takes no lock either; what must
not change in between is read with `FOR UPDATE`, or guarded by a constraint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

ROUTE = "shopbot_route"  # the key of a session's `Route` in `Session.info`
# A statement's execution option: this read must see the latest commit, so a replica that
# may lag never answers it (the catalog's, whose results are kept: bot.dao.catalog_cache).
LATEST = "shopbot_latest"


@dataclass
class Route:
    """Where one session's statements go: its plain reads to `reads` until the session first
    needs the primary, then everything to the primary. When `reads` may lag (a replica),
    `latest` serves the reads that must not (`LATEST`), without moving the session."""

    primary: Engine
    reads: Engine
    latest: Engine | None = None
    on_primary: bool = False

    def bind_for(self, clause: object, *, flushing: bool) -> Engine:
        if self.on_primary:
            return self.primary
        if flushing or not plain_read(clause):
            self.on_primary = True
            return self.primary
        if self.latest is not None and wants_latest(clause):
            return self.latest
        return self.reads


def plain_read(clause: object) -> bool:
    """A SELECT that neither locks nor writes: the only statement a replica may answer."""
    return isinstance(clause, Select) and clause._for_update_arg is None


def wants_latest(clause: object) -> bool:
    return isinstance(clause, Select) and bool(clause.get_execution_options().get(LATEST))


class RoutedSession(Session):
    """A session whose `info[ROUTE]`, when set, picks the engine of each statement."""

    def get_bind(self, mapper: Any = None, *, clause: Any = None, **kw: Any) -> Any:
        route: Route | None = self.info.get(ROUTE)
        if route is None:
            return super().get_bind(mapper, clause=clause, **kw)
        return route.bind_for(clause, flushing=self._flushing)


class ReadRouting(Protocol):
    """Where an update's reads go (`route`), and what to remember once it wrote."""

    def route(self, user_id: int | None) -> Route: ...

    def wrote(self, user_id: int) -> None: ...


class ReadsApart:
    """One database: an update's reads before its first write run on `reader`, with no
    transaction around them (`bot.dao.database.reading`), its writes in a transaction on
    `writer` (on SQLite one that takes the write lock at BEGIN). Only updates that write
    queue for SQLite's one writer, and one that only reads sends no BEGIN and no COMMIT."""

    def __init__(self, writer: AsyncEngine, reader: AsyncEngine) -> None:
        self._writer = writer.sync_engine
        self._reader = reader.sync_engine

    def route(self, user_id: int | None) -> Route:
        return Route(self._writer, self._reader)

    def wrote(self, user_id: int) -> None:
        """Nothing to remember: one database reads back its own writes."""
