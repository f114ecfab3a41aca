"""broadcasts

`broadcasts` (a message an admin sends to an audience) and `broadcast_recipients` (one row per
user it goes to, unique per broadcast), and `users.last_seen_at` (when a user last used the
bot, for the audience "active in the last N days").

Two new tables: nothing existing is rewritten; their foreign keys to `products` and
`broadcasts` are declared on empty tables (PostgreSQL takes a SHARE ROW EXCLUSIVE lock on
`products` for a moment, without a scan). `users` is the biggest table a shop has: a nullable
column without a default is one `ADD COLUMN` on both backends, no rewrite and no scan.

Downgrade drops the tables and the column: past broadcasts and their reports go, and when
users were last seen is learnt again.

Revision ID: 9d1f3a5c7e20
Revises: b6d8f0a2c4e7
Create Date: 2026-12-08 04:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d1f3a5c7e20"
down_revision: str | Sequence[str] | None = "b6d8f0a2c4e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[object]]:
    return [
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
    ]


def upgrade() -> None:
    op.add_column("users", sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "broadcasts",
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo", sa.String(length=255), nullable=True),
        sa.Column("document", sa.String(length=255), nullable=True),
        sa.Column("button_text", sa.String(length=64), nullable=True),
        sa.Column("button_url", sa.String(length=512), nullable=True),
        sa.Column("button_product_id", sa.Integer(), nullable=True),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("audience_value", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("paid", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("report_message_id", sa.BigInteger(), nullable=True),
        sa.Column("sender", sa.String(length=64), nullable=True),
        sa.Column("sender_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["button_product_id"],
            ["products.id"],
            name=op.f("fk_broadcasts_button_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_table(
        "broadcast_recipients",
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("error", sa.String(length=255), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_recipients_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipients")),
        sa.UniqueConstraint(
            "broadcast_id", "chat_id", name=op.f("uq_broadcast_recipients_broadcast_id_chat_id")
        ),
    )
    op.create_index(
        "ix_broadcast_recipients_broadcast_id_state_id",
        "broadcast_recipients",
        ["broadcast_id", "state", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_broadcast_recipients_broadcast_id_state_id", table_name="broadcast_recipients"
    )
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
    op.drop_column("users", "last_seen_at")
