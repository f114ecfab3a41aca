"""The dialect's own INSERT, for ON CONFLICT clauses that SQLite and PostgreSQL both understand."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dao.database import Base

DialectInsert = postgresql.Insert | sqlite.Insert


def dialect_insert(session: AsyncSession) -> Callable[[type[Base]], DialectInsert]:
    """`postgresql.insert` or `sqlite.insert`, whichever speaks to this session's database."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
