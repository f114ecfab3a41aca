"""refunded purchases

`purchases.refunded_at`: when the payment went back to the buyer (an admin's refund or
Telegram's `refunded_payment`). Nullable and without a default, so it is added in place on
SQLite and PostgreSQL alike, whatever the table holds: every existing purchase stays kept.

Downgrade drops the column: the older code counts refunded purchases again and re-delivers
them, as it did before this revision.

Revision ID: c41f7e2a9d63
Revises: 5d0c7a1e9b42
Create Date: 2026-11-26 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c41f7e2a9d63"
down_revision: str | Sequence[str] | None = "5d0c7a1e9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("purchases", sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Outside batch mode: SQLite (3.35+) drops a column in place, without a rebuild.
    op.drop_column("purchases", "refunded_at")
