"""testonly safe DDL 5: a type change as expand and contract, release 1: the new column beside
the old one (nullable, so no rewrite); the code of this release writes both"""

import sqlalchemy as sa
from alembic import op

revision = "safe5"
down_revision = "safe4"


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("quantity_big", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("quantity_big")
