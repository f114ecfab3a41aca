"""testonly safe DDL 1: the shop as it was: purchases.quantity, an integer every row has"""

import sqlalchemy as sa
from alembic import op

revision = "safe1"
down_revision = "<real head>"


def upgrade() -> None:
    # A constant default: PostgreSQL 11+ stores it in the catalog, no rewrite of the rows.
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("quantity", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("quantity")
