"""testonly evolution 5: a new column backfilled from another table in batches (each purchase
keeps the name of its product)"""

import sqlalchemy as sa
from alembic import op

from bot.migration.batches import update_in_batches

revision = "evolve5"
down_revision = "evolve4"

products = sa.table("products", sa.column("id"), sa.column("name"))
purchases = sa.table(
    "purchases", sa.column("id"), sa.column("product_id"), sa.column("product_name")
)


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("product_name", sa.String(255), nullable=True))
    name = sa.select(products.c.name).where(products.c.id == purchases.c.product_id)
    update_in_batches(
        purchases,
        values={"product_name": name.scalar_subquery()},
        where=purchases.c.product_name.is_(None),
        batch_size=100,
    )


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("product_name")
