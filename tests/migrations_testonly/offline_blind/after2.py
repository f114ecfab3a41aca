"""testonly offline blind: a revision after it, which the plan still reads"""

from alembic import op

revision = "after2"
down_revision = "peek1"

INDEX = "ix_purchases_testonly_amount"


def upgrade() -> None:
    op.create_index(INDEX, "purchases", ["amount"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="purchases")
