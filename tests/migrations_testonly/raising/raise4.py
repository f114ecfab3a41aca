"""testonly raising 4: after the counter's three, counts itself, then a helper of its own
raises; all of it must be rolled back, and the counter's revisions must stay"""

from tests.migrations_testonly.steps import step

revision = "raise4"
down_revision = "count3"


def _share(total: int, parts: int) -> float:
    return total / parts  # testonly: the broken line


def upgrade() -> None:
    step(revision)
    _share(100, 0)


def downgrade() -> None:
    pass
