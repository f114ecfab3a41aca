"""testonly heads: the right branch of two unmerged heads"""

revision = "right1"
down_revision = "<real head>"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
