"""pytest-alembic's built-in checks, on a real SQLite file and on real PostgreSQL, through
our own env.py (the connection is handed in, as the bot does)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic.config import Config
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bot.dao.database import create_engine
from bot.migration.revisions import alembic_config as project_alembic_config
from tests.support.databases import ThrowawayDatabase

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]


@pytest.fixture
def alembic_config() -> Config:
    return project_alembic_config()


@pytest.fixture
def alembic_engine(database: ThrowawayDatabase) -> Iterator[AsyncEngine]:
    engine = create_engine(database.url, poolclass=NullPool)
    yield engine
    asyncio.run(engine.dispose())
