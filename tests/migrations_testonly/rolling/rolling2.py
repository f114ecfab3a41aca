"""testonly rolling 2: new columns on tables the previous release writes: nullable, or with a
constant default, so its INSERTs (which do not name them) keep working"""

import sqlalchemy as sa
from alembic import op

revision = "rolling2"
down_revision = "rolling1"


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("gift_note", sa.String(255), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("news_opt_in", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("news_opt_in")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("gift_note")
