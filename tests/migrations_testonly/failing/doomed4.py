"""testonly failing 4: after the counter's three, creates a table, counts itself, then fails;
all of it must be rolled back, and the counter's revisions must stay"""

from alembic import op

from tests.migrations_testonly.steps import step

revision = "doomed4"
down_revision = "count3"


def upgrade() -> None:
    step(revision)
    op.execute("INSERT INTO testonly_missing (id) VALUES (1)")


def downgrade() -> None:
    pass
