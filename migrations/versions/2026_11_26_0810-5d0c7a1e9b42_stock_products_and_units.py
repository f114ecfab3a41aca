"""stock products and their units

Products get a kind: `unlimited` (the same content for every buyer, as before) or `stock` (a
pool of units, each sold once). Every existing product becomes unlimited: the column's server
default fills the rows already there, on SQLite and PostgreSQL alike, without a table rebuild.

`stock_units` holds the units: unique per product on the SHA-256 of the text (a unique index on
the text itself would break PostgreSQL's btree row limit for texts of up to 4000 characters),
a state (available, reserved, sold), the reservation (payer and expiry), and the purchase the
unit was sold in (unique: one unit per purchase).

Downgrade drops the units (what was sold in them is lost) and takes stock products off sale,
so the older code never sells their empty content.

Revision ID: 5d0c7a1e9b42
Revises: 489ffa93607c
Create Date: 2026-11-26 08:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d0c7a1e9b42"
down_revision: str | Sequence[str] | None = "489ffa93607c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="unlimited", nullable=False)
        )
    op.create_table(
        "stock_units",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="available", nullable=False),
        sa.Column("reserved_for", sa.BigInteger(), nullable=True),
        sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purchase_id", sa.Integer(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_units_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_stock_units_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_units")),
        sa.UniqueConstraint(
            "product_id", "content_hash", name=op.f("uq_stock_units_product_id_content_hash")
        ),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_stock_units_purchase_id")),
    )
    op.create_index(
        "ix_stock_units_product_id_state", "stock_units", ["product_id", "state"], unique=False
    )


def downgrade() -> None:
    products = sa.table("products", sa.column("kind", sa.String), sa.column("on_sale", sa.Boolean))
    op.execute(products.update().where(products.c.kind == "stock").values(on_sale=False))
    op.drop_index("ix_stock_units_product_id_state", table_name="stock_units")
    op.drop_table("stock_units")
    # Outside batch mode: SQLite (3.35+) drops a column in place, without a rebuild.
    op.drop_column("products", "kind")
