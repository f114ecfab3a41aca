"""testonly concurrent index: an index on purchases built without blocking writes on
PostgreSQL (CONCURRENTLY, outside a transaction, as the README's recipe says); a plain index on
SQLite, where the same file applies."""

import sqlalchemy as sa
from alembic import op

revision = "concurrent_index1"
down_revision = "<real head>"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_purchases_testonly_amount",
            "purchases",
            ["amount"],
            postgresql_concurrently=True,
        )
    op.execute(sa.text("SELECT 1"))


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_purchases_testonly_amount", table_name="purchases", postgresql_concurrently=True
        )
