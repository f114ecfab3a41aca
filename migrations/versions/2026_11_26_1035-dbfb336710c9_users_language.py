"""users language

Each user's language (`en`, `ru`): taken from their Telegram client's language at first
contact, or chosen with 🌐. Nullable, with no default: the users already there get theirs at
their next /start. A new column only: no table is rebuilt on either backend.

Downgrade drops the column (the choices made with 🌐 are lost; the older code speaks English).

Revision ID: dbfb336710c9
Revises: c7d061978b68
Create Date: 2026-11-26 10:35:45.407509+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dbfb336710c9"
down_revision: str | Sequence[str] | None = "c7d061978b68"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    # Outside batch mode: SQLite (3.35+) drops a column in place, without a rebuild.
    op.drop_column("users", "language")
