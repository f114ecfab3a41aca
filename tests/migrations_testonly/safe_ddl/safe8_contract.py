"""testonly safe DDL 8: the contract, a release after the code stopped reading the old column:
the old one dropped and the new one takes its name"""

import sqlalchemy as sa
from alembic import op

revision = "safe8"
down_revision = "safe7"


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("quantity")
        batch.alter_column("quantity_big", new_column_name="quantity")


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.alter_column("quantity", new_column_name="quantity_big")
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("quantity", sa.Integer(), nullable=False, server_default="1"))
