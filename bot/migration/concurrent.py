"""PostgreSQL: an index a revision builds CONCURRENTLY is built again after a build that died.

A concurrent build that fails or is cut short (the migrator killed, its lock_timeout, the
database restarted) leaves its index behind, INVALID: PostgreSQL keeps it up to date on every
write but never reads from it. The revision was not recorded, so the next start runs it again,
and `CREATE INDEX CONCURRENTLY` meets the name already taken (with IF NOT EXISTS it skips the
build and leaves the index invalid for good). So just before such a statement runs on the
migration connection, an invalid index of that name that no session is still building is
dropped, concurrently too, and the build starts over.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from loguru import logger
from sqlalchemy import event
from sqlalchemy.engine import Connection

_CONCURRENT_INDEX = re.compile(
    r"\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r'(?P<name>"(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s+ON\s',
    re.IGNORECASE,
)
# An invalid index of that name on the search path, that no build in progress is making.
_DEAD_BUILD = """
SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relname = '{name}' AND pg_table_is_visible(c.oid) AND NOT i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid)
"""


@contextmanager
def dead_builds_replaced(connection: Connection) -> Iterator[None]:
    """While the revisions run on `connection`: a concurrent index build first drops what a
    dead build of the same index left. Nothing on SQLite, which builds no index concurrently."""
    if connection.dialect.name != "postgresql":
        yield
        return
    event.listen(connection, "before_cursor_execute", _drop_dead_build)
    try:
        yield
    finally:
        event.remove(connection, "before_cursor_execute", _drop_dead_build)


def index_built_concurrently(statement: str) -> str | None:
    """The name of the index a `CREATE INDEX CONCURRENTLY` statement builds, else None."""
    match = _CONCURRENT_INDEX.match(statement)
    if match is None:
        return None
    name = match["name"]
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def _drop_dead_build(
    connection: Connection, _cursor: Any, statement: str, *_: Any, **__: Any
) -> None:
    name = index_built_concurrently(statement)
    if name is None or connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        return  # inside a transaction the build itself fails, with PostgreSQL's own message
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_DEAD_BUILD.format(name=name.replace("'", "''")))
        if cursor.fetchone() is None:
            return
        logger.warning(
            "index {} was left invalid by a concurrent build that did not finish; dropping it "
            "to build it again",
            name,
        )
        quoted = '"{}"'.format(name.replace('"', '""'))
        cursor.execute(f"DROP INDEX CONCURRENTLY {quoted}")
    finally:
        cursor.close()
