"""testonly broken import 1: a revision file importing a name that does not exist"""

from alembic import op_that_does_not_exist  # testonly: the broken line

revision = "import1"
down_revision = "<real head>"


def upgrade() -> None:
    op_that_does_not_exist.execute("SELECT 1")


def downgrade() -> None:
    pass
