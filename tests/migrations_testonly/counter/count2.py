"""testonly counter 2: counts itself"""

from tests.migrations_testonly.steps import step, undo

revision = "count2"
down_revision = "count1"


def upgrade() -> None:
    step(revision)


def downgrade() -> None:
    undo(revision)
