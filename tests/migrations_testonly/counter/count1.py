"""testonly counter 1: creates the run counter, then counts itself"""

from tests.migrations_testonly.steps import create_runs_table, drop_runs_table, step, undo

revision = "count1"
down_revision = "<real head>"


def upgrade() -> None:
    create_runs_table()
    step(revision)


def downgrade() -> None:
    undo(revision)
    drop_runs_table()
