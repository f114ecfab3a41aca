"""testonly evolution 3: a unique constraint on a referenced table"""

from alembic import op

revision = "evolve3"
down_revision = "evolve2"
CONSTRAINT = "uq_products_category_id_name"


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.create_unique_constraint(CONSTRAINT, ["category_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint(CONSTRAINT, type_="unique")
