"""testonly evolution 2: a NOT NULL column with a server default, on a table with rows (the
evolution's first step, a type change on products, is rebuild1: scenario("rebuild",
"evolution"))"""

import sqlalchemy as sa
from alembic import op

revision = "evolve2"
down_revision = "rebuild1"


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("status", sa.String(16), server_default="paid", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("status")
