"""testonly concurrent index: the same index built CONCURRENTLY, outside the transaction"""

from alembic import op

revision = "concurrent1"
down_revision = "<real head>"

INDEX = "ix_purchases_testonly_created_at"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(INDEX, "purchases", ["created_at"], postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name="purchases", postgresql_concurrently=True)
