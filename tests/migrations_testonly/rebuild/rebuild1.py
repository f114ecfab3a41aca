"""testonly rebuild 1: a batch operation that rebuilds products, which purchases reference"""

import sqlalchemy as sa
from alembic import op

revision = "rebuild1"
down_revision = "<real head>"


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.alter_column("description", type_=sa.String(2000), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.alter_column("description", type_=sa.Text(), existing_nullable=False)
