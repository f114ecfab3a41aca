"""testonly orphan 1: deletes the categories that products still reference"""

from alembic import op

revision = "orphan1"
down_revision = "<real head>"


def upgrade() -> None:
    op.execute("DELETE FROM categories")


def downgrade() -> None:
    pass
