"""gateway orders

`orders`: a purchase started through a payment gateway outside Telegram (Robokassa, Crypto
Pay), before and after it is paid. Its own id is the invoice number Robokassa gets (`InvId`):
unique because the database hands it out (a sequence on PostgreSQL; AUTOINCREMENT on SQLite,
so a number is never handed out twice even after rows are deleted), never `max(id)+1`.
`external_id` is the gateway's id for it (Robokassa: the InvId; Crypto Pay: its invoice id),
unique per provider. A new table: nothing existing is rewritten.

A gateway's payment is recorded in `purchases` like any other, once: its charge id is
`<provider>:<gateway id>` under the existing unique `charge_id` (so unique per provider and
gateway id, and never mistaken for a Telegram charge). No existing table is rebuilt.

Downgrade drops `orders` (the purchases they became stay, as purchases).

Revision ID: e3a9c5d17b20
Revises: dbfb336710c9
Create Date: 2026-11-26 13:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a9c5d17b20"
down_revision: str | Sequence[str] | None = "dbfb336710c9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="created", nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("pay_url", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("amount > 0", name=op.f("ck_orders_amount_positive")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_orders_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_orders_purchase_id_purchases")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("provider", "external_id", name=op.f("uq_orders_provider_external_id")),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_orders_purchase_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_orders_state_expires_at", "orders", ["state", "expires_at"], unique=False)
    op.create_index(op.f("ix_orders_user_id"), "orders", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_orders_user_id"), table_name="orders")
    op.drop_index("ix_orders_state_expires_at", table_name="orders")
    op.drop_table("orders")
