"""testonly plain index: CREATE INDEX on purchases, which blocks its writes for the build"""

from alembic import op

revision = "index1"
down_revision = "<real head>"

INDEX = "ix_purchases_testonly_created_at"


def upgrade() -> None:
    op.create_index(INDEX, "purchases", ["created_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="purchases")
