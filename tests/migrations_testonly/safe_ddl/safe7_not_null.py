"""testonly safe DDL 7: NOT NULL without a scan under ACCESS EXCLUSIVE: a CHECK added NOT
VALID, validated apart (writes go on), then SET NOT NULL, which PostgreSQL proves from the
validated CHECK without reading a row, and the CHECK dropped"""

import sqlalchemy as sa
from alembic import op

revision = "safe7"
down_revision = "safe6"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("purchases") as batch:  # a rebuild, checked as it copies
            batch.alter_column("quantity_big", existing_type=sa.BigInteger(), nullable=False)
        return
    op.create_check_constraint(
        op.f("ck_purchases_quantity_big_not_null"),  # op.f: the name as written, no convention
        "purchases",
        "quantity_big IS NOT NULL",
        postgresql_not_valid=True,
    )
    with op.get_context().autocommit_block():  # the validation in a transaction of its own
        op.execute("ALTER TABLE purchases VALIDATE CONSTRAINT ck_purchases_quantity_big_not_null")
    op.alter_column("purchases", "quantity_big", existing_type=sa.BigInteger(), nullable=False)
    op.drop_constraint(op.f("ck_purchases_quantity_big_not_null"), "purchases", type_="check")


def downgrade() -> None:
    with op.batch_alter_table("purchases") as batch:
        batch.alter_column("quantity_big", existing_type=sa.BigInteger(), nullable=True)
