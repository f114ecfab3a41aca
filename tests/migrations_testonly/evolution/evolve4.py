"""testonly evolution 4: a column of a referenced table is renamed (products.description)"""

from alembic import op

revision = "evolve4"
down_revision = "evolve3"


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.alter_column("description", new_column_name="details")


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.alter_column("details", new_column_name="description")
