"""What `migrations/env.py` passes to alembic's `context.configure`, for every caller."""

from __future__ import annotations

from typing import Any, Literal

from alembic.config import Config

from bot.dao.database import UTCDateTime
from bot.migration.revisions import VERSION_TABLE


def context_options(dialect_name: str, config: Config) -> dict[str, Any]:
    tracker = config.attributes.get("tracker")
    return {
        "version_table": VERSION_TABLE,
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "transaction_per_migration": True,
        # SQLite DDL is transactional once the engine emits BEGIN itself (bot.dao.database).
        "transactional_ddl": True,
        "on_version_apply": [tracker] if tracker is not None else [],
        "render_item": _render_item,
    }


def _render_item(kind: str, item: object, autogen_context: Any) -> str | Literal[False]:
    """Autogenerate writes our UTCDateTime as the plain type it stands for, so revision
    scripts never import application code (they must keep working as the code changes)."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
