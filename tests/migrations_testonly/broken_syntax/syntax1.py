"""testonly broken syntax 1: a revision file Python refuses to compile ('break' outside a
loop: a SyntaxError the linter lets through with its noqa)"""

from alembic import op

revision = "syntax1"
down_revision = "<real head>"


def upgrade() -> None:
    op.execute("SELECT 1")
    break  # noqa: F701  # testonly: the broken line


def downgrade() -> None:
    pass
