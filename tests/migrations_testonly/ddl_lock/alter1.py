"""testonly ddl lock: alters a table the bot uses (ACCESS EXCLUSIVE on PostgreSQL)"""

import sqlalchemy as sa
from alembic import op

revision = "alter1"
down_revision = "<real head>"

TABLE = "users"
COLUMN = "testonly_note"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column(COLUMN, sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column(TABLE, COLUMN)
