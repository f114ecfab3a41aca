"""catalog photos

`products.photo` and `categories.photo`: a Telegram file id, shown on the product's card and
above the category's page. Nullable columns without a default: one `ADD COLUMN` each on both
backends, no rewrite and no scan.

Downgrade drops them: the photos are no longer shown (the files stay on Telegram's side).

Revision ID: 6a2c4e8f0b13
Revises: 3e7a9c1f5b42
Create Date: 2026-12-08 05:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a2c4e8f0b13"
down_revision: str | Sequence[str] | None = "3e7a9c1f5b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("products", sa.Column("photo", sa.String(length=256), nullable=True))
    op.add_column("categories", sa.Column("photo", sa.String(length=256), nullable=True))


def downgrade() -> None:
    op.drop_column("categories", "photo")
    op.drop_column("products", "photo")
