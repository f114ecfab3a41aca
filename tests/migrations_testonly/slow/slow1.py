"""testonly slow 1: keeps the database busy for a while, as a large data migration does"""

from alembic import op

revision = "slow1"
down_revision = "<real head>"

# About a second of work on either backend, spent in the database (not in Python), as a
# data migration spends it.
_BUSY = {
    "postgresql": "SELECT pg_sleep(1)",
    "sqlite": (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000) "
        "SELECT count(*) FROM n"
    ),
}


def upgrade() -> None:
    op.execute(_BUSY[op.get_bind().dialect.name])


def downgrade() -> None:
    pass
