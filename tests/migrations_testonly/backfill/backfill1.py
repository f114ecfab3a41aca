"""testonly backfill 1: a new nullable column on purchases, to be backfilled"""

import sqlalchemy as sa
from alembic import op

revision = "backfill1"
down_revision = "<real head>"


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("doubled", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("doubled")
