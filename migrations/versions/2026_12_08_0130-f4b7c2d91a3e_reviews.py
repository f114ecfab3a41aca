"""reviews

`reviews`: a buyer's rating (1-5) and optional words on one purchase, unique per purchase, and
when an admin hid it. A new table: nothing existing is rewritten or locked beyond the moment
its foreign keys are declared (PostgreSQL takes a SHARE ROW EXCLUSIVE lock on `purchases` and
`products` to add them to an empty table, which waits for no scan).

Downgrade drops `reviews`: the stars and words go with it, purchases stay.

Revision ID: f4b7c2d91a3e
Revises: e3a9c5d17b20
Create Date: 2026-12-08 01:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4b7c2d91a3e"
down_revision: str | Sequence[str] | None = "e3a9c5d17b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_reviews_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_reviews_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_reviews_purchase_id")),
    )
    op.create_index("ix_reviews_product_id_id", "reviews", ["product_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reviews_product_id_id", table_name="reviews")
    op.drop_table("reviews")
