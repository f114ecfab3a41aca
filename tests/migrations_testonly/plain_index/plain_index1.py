"""testonly plain index: the same index on purchases as the concurrent_index scenario, built
the way autogenerate writes it (inside the revision's transaction): on PostgreSQL it holds a
SHARE lock on purchases, so every write waits for the whole build."""

from alembic import op

revision = "plain_index1"
down_revision = "<real head>"


def upgrade() -> None:
    op.create_index("ix_purchases_testonly_amount", "purchases", ["amount"])


def downgrade() -> None:
    op.drop_index("ix_purchases_testonly_amount", table_name="purchases")
