"""testonly merge: joins the two heads of the heads scenario"""

revision = "join1"
down_revision = ("left1", "right1")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
