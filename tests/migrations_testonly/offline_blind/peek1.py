"""testonly offline blind: reads the database, which offline SQL (and so the plan) cannot"""

import sqlalchemy as sa
from alembic import op

revision = "peek1"
down_revision = "<real head>"


def upgrade() -> None:
    op.get_bind().scalar(sa.text("SELECT 1"))


def downgrade() -> None:
    pass
