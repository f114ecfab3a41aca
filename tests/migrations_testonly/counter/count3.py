"""testonly counter 3: counts itself"""

from tests.migrations_testonly.steps import step, undo

revision = "count3"
down_revision = "count2"


def upgrade() -> None:
    step(revision)


def downgrade() -> None:
    undo(revision)
