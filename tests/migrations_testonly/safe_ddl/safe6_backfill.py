"""testonly safe DDL 6: the new column backfilled in committed batches: writers wait for one
batch at most, and a rerun goes on from the rows not done"""

import sqlalchemy as sa

from bot.migration.batches import update_in_batches

revision = "safe6"
down_revision = "safe5"

purchases = sa.table("purchases", sa.column("id"), sa.column("quantity"), sa.column("quantity_big"))


def upgrade() -> None:
    update_in_batches(
        purchases,
        values={"quantity_big": purchases.c.quantity},
        where=purchases.c.quantity_big.is_(None),
        batch_size=50,
        commit_each_batch=True,
    )


def downgrade() -> None:
    pass
