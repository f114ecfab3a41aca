"""testonly safe DDL 2: a foreign key added NOT VALID (the README's recipe, step 1): on
PostgreSQL it takes its lock for a moment and checks no existing row"""

import sqlalchemy as sa
from alembic import op

revision = "safe2"
down_revision = "safe1"


def upgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("referrer_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_purchases_referrer_id_users"),
            "users",
            ["referrer_id"],
            ["id"],
            postgresql_not_valid=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.drop_constraint(op.f("fk_purchases_referrer_id_users"), type_="foreignkey")
        batch.drop_column("referrer_id")
