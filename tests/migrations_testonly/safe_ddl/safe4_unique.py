"""testonly safe DDL 4: a unique constraint from a unique index built concurrently, then
attached to the table with USING INDEX (a moment's lock, no second build)"""

import sqlalchemy as sa
from alembic import op

revision = "safe4"
down_revision = "safe3"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("referral_code", sa.String(16), nullable=True))
    with op.get_context().autocommit_block():
        op.create_index(
            "uq_users_referral_code",
            "users",
            ["referral_code"],
            unique=True,
            postgresql_concurrently=True,
        )
    if op.get_bind().dialect.name == "postgresql":  # on SQLite the unique index is the rule
        op.execute(
            "ALTER TABLE users ADD CONSTRAINT uq_users_referral_code "
            "UNIQUE USING INDEX uq_users_referral_code"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("uq_users_referral_code", "users", type_="unique")
    else:
        op.drop_index("uq_users_referral_code", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("referral_code")
