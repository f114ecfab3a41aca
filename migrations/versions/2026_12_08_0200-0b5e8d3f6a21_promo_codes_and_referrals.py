"""promo codes and referrals

`promo_codes`: a code that takes a percentage or a fixed amount off a price, for every product,
a category or one product, with limits on uses in all and per buyer, a validity window and an
on/off switch; a personal one (a referral reward) names its owner and the purchase that earned
it (unique). `promo_uses`: one use of a code by a buyer, held at pre-checkout and then spent
by the payment (`purchase_id`, unique) with the discount it gave. Two new tables, their foreign
keys to `products`, `categories` and `purchases` declared on empty tables.

`orders.promo_code_id` (nullable): the code a gateway order's amount was made with. Nothing
existing is rewritten: on PostgreSQL the column is added and its foreign key declared NOT VALID
(a moment's lock, no scan; revision 5c7e9a1b3d24 validates it); on SQLite one `ADD COLUMN ...
REFERENCES`, no rebuild of `orders` (a rebuild would also reset its AUTOINCREMENT sequence to
the highest id, and an invoice number must never come back).

`referrals`: who invited whom, one row per invited user. A table of its own rather than a
column on `users`, the biggest table a shop has: made empty, with its indexes, it locks and
scans nothing there.

Downgrade drops the three tables and the column: the purchases made with a code stay, at the
price they were paid.

Revision ID: 0b5e8d3f6a21
Revises: f4b7c2d91a3e
Create Date: 2026-12-08 02:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0b5e8d3f6a21"
down_revision: str | Sequence[str] | None = "f4b7c2d91a3e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
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


FK_ORDERS_PROMO = "fk_orders_promo_code_id_promo_codes"


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "promo_codes",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("percent", sa.SmallInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("per_user", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("owner_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("earned_by_purchase_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "(percent IS NOT NULL AND amount IS NULL AND currency IS NULL) OR "
            "(percent IS NULL AND amount IS NOT NULL AND currency IS NOT NULL)",
            name=op.f("ck_promo_codes_percent_or_amount"),
        ),
        sa.CheckConstraint("percent BETWEEN 1 AND 99", name=op.f("ck_promo_codes_percent_range")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_promo_codes_amount_positive")),
        sa.CheckConstraint(
            "product_id IS NULL OR category_id IS NULL", name=op.f("ck_promo_codes_one_scope")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name=op.f("fk_promo_codes_category_id_categories")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_promo_codes_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["earned_by_purchase_id"],
            ["purchases.id"],
            name=op.f("fk_promo_codes_earned_by_purchase_id_purchases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_promo_codes_code")),
        sa.UniqueConstraint(
            "earned_by_purchase_id", name=op.f("uq_promo_codes_earned_by_purchase_id")
        ),
    )
    op.create_table(
        "promo_uses",
        sa.Column("promo_code_id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purchase_id", sa.Integer(), nullable=True),
        sa.Column("discount", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["promo_code_id"],
            ["promo_codes.id"],
            name=op.f("fk_promo_uses_promo_code_id_promo_codes"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_promo_uses_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_uses")),
        sa.UniqueConstraint("purchase_id", name=op.f("uq_promo_uses_purchase_id")),
    )
    op.create_index(
        "ix_promo_uses_promo_code_id_telegram_id",
        "promo_uses",
        ["promo_code_id", "telegram_id"],
        unique=False,
    )
    op.create_table(
        "referrals",
        sa.Column("invited_id", sa.Integer(), nullable=False),
        sa.Column("inviter_id", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("invited_id <> inviter_id", name=op.f("ck_referrals_not_oneself")),
        sa.ForeignKeyConstraint(
            ["invited_id"], ["users.id"], name=op.f("fk_referrals_invited_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["inviter_id"], ["users.id"], name=op.f("fk_referrals_inviter_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("invited_id", name=op.f("uq_referrals_invited_id")),
    )
    op.create_index(op.f("ix_referrals_inviter_id"), "referrals", ["inviter_id"], unique=False)
    if _sqlite():
        op.execute(
            "ALTER TABLE orders ADD COLUMN promo_code_id INTEGER "
            f"CONSTRAINT {FK_ORDERS_PROMO} REFERENCES promo_codes (id)"
        )
    else:
        op.add_column("orders", sa.Column("promo_code_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f(FK_ORDERS_PROMO),
            "orders",
            "promo_codes",
            ["promo_code_id"],
            ["id"],
            postgresql_not_valid=True,
        )


def downgrade() -> None:
    if _sqlite():
        op.execute("ALTER TABLE orders DROP COLUMN promo_code_id")
    else:
        op.drop_constraint(op.f(FK_ORDERS_PROMO), "orders", type_="foreignkey")
        op.drop_column("orders", "promo_code_id")
    op.drop_index(op.f("ix_referrals_inviter_id"), table_name="referrals")
    op.drop_table("referrals")
    op.drop_index("ix_promo_uses_promo_code_id_telegram_id", table_name="promo_uses")
    op.drop_table("promo_uses")
    op.drop_table("promo_codes")
