"""soft delete, form token, unique category names

Deleted products become rows with `deleted_at` set, so a payment that arrives late still
finds what it paid for; `form_token` makes the add-product form saved twice create one
product; category names become unique ignoring case in the schema. Categories whose names
differ only by case (possible before on PostgreSQL) keep the oldest name; the others get
their id appended, so the index can be built.

Revision ID: 489ffa93607c
Revises: a8dd0cf26a08
Create Date: 2026-11-26 07:35:30.259898+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "489ffa93607c"
down_revision: str | Sequence[str] | None = "a8dd0cf26a08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only native ALTERs and indexes: no table rebuild on SQLite, which would have to drop
    # and recreate `products` while purchases reference it.
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("form_token", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_products_form_token"), ["form_token"], unique=True)

    categories = sa.table("categories", sa.column("id", sa.Integer), sa.column("name", sa.String))
    first_of_each_name = sa.select(sa.func.min(categories.c.id)).group_by(
        sa.func.lower(categories.c.name)
    )
    op.execute(
        categories.update()
        .where(categories.c.id.not_in(first_of_each_name))
        .values(
            name=sa.func.substr(categories.c.name, 1, 50)
            + " #"
            + sa.cast(categories.c.id, sa.String)
        )
    )
    op.create_index("uq_categories_lower_name", "categories", [sa.text("lower(name)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_categories_lower_name", table_name="categories")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_form_token"))
    # Outside batch mode: SQLite (3.35+) drops a column in place, without a rebuild.
    op.drop_column("products", "form_token")
    op.drop_column("products", "deleted_at")
