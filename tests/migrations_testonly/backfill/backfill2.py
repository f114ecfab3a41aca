"""testonly backfill 2: fills the new column in batches (committed each, or not, as
TESTONLY_BACKFILL_COMMIT says), then fails if TESTONLY_BACKFILL_FAIL is set"""

import os

import sqlalchemy as sa

from bot.migration.batches import update_in_batches

revision = "backfill2"
down_revision = "backfill1"

purchases = sa.table("purchases", sa.column("id"), sa.column("amount"), sa.column("doubled"))


def upgrade() -> None:
    update_in_batches(
        purchases,
        values={"doubled": purchases.c.amount * 2},
        where=purchases.c.doubled.is_(None),
        batch_size=7,
        commit_each_batch=os.environ.get("TESTONLY_BACKFILL_COMMIT") == "1",
    )
    if os.environ.get("TESTONLY_BACKFILL_FAIL") == "1":
        raise RuntimeError("testonly: failing after the backfill")


def downgrade() -> None:
    pass
