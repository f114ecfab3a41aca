"""testonly heads: the left branch of two unmerged heads"""

revision = "left1"
down_revision = "<real head>"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
