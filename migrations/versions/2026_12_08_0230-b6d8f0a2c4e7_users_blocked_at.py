"""users blocked at

`users.blocked_at` (nullable): when a message to the user was refused because they blocked
the bot. `users` is the biggest table a shop has: a nullable column without a default is one
`ADD COLUMN` on both backends (PostgreSQL changes only the catalog, under a moment's lock;
SQLite appends it to the table's definition), no rewrite and no scan.

Downgrade drops the column (`DROP COLUMN`, SQLite 3.35 or later): who blocked the bot is
learnt again at the next refused message.

Revision ID: b6d8f0a2c4e7
Revises: 5c7e9a1b3d24
Create Date: 2026-12-08 02:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b6d8f0a2c4e7"
down_revision: str | Sequence[str] | None = "5c7e9a1b3d24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "blocked_at")
