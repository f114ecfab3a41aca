"""outbox and restock subscriptions

`outbox` holds what the bot must send, written in the transaction that decided it: a
purchase's goods and the admins' sale notice (with the purchase), a restock notice (with the
units that ended a sell-out). A sender claims a row, sends it, and marks it sent or failed.
`restock_subscriptions` holds who asked to be told when a sold-out product is back.

Both tables are new: nothing existing is rewritten. Downgrade refuses while the outbox holds
goods not yet sent (the older code would never send them): start the bot at this revision
to deliver them first.

Revision ID: c7d061978b68
Revises: c41f7e2a9d63
Create Date: 2026-11-26 09:51:43.052313+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "c7d061978b68"
down_revision: str | Sequence[str] | None = "c41f7e2a9d63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "restock_subscriptions",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
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
            ["product_id"],
            ["products.id"],
            name=op.f("fk_restock_subscriptions_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restock_subscriptions")),
        sa.UniqueConstraint(
            "product_id",
            "telegram_id",
            name=op.f("uq_restock_subscriptions_product_id_telegram_id"),
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
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
            ["product_id"],
            ["products.id"],
            name=op.f("fk_outbox_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_outbox_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint(
            "kind", "chat_id", "purchase_id", name=op.f("uq_outbox_kind_chat_id_purchase_id")
        ),
    )
    op.create_index("ix_outbox_state_due_at", "outbox", ["state", "due_at"], unique=False)


def downgrade() -> None:
    if not context.is_offline_mode():  # offline SQL cannot look; a person runs it knowingly
        _refuse_undelivered_goods()
    op.drop_index("ix_outbox_state_due_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("restock_subscriptions")


def _refuse_undelivered_goods() -> None:
    outbox = sa.table("outbox", sa.column("kind", sa.String), sa.column("state", sa.String))
    undelivered = op.get_bind().scalar(
        sa.select(sa.func.count())
        .select_from(outbox)
        .where(outbox.c.kind == "goods", outbox.c.state == "pending")
    )
    if undelivered:
        raise RuntimeError(
            f"the outbox holds {undelivered} purchase(s) not delivered yet; start the bot at "
            "this revision until they are sent, then downgrade"
        )
