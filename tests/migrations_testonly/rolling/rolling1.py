"""testonly rolling 1: the current release's first additive revision: new tables only (the run
counter and its own), then it waits at its gate with the migration lock held"""

from tests.migrations_testonly.steps import create_runs_table, drop_runs_table, step, undo

revision = "rolling1"
down_revision = "<real head>"


def upgrade() -> None:
    create_runs_table()
    step(revision)


def downgrade() -> None:
    undo(revision)
    drop_runs_table()
