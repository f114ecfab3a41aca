"""testonly safe DDL 3: the foreign key validated in a transaction of its own (step 2): the scan
of existing rows takes SHARE UPDATE EXCLUSIVE, which lets writes go on"""

from alembic import op

revision = "safe3"
down_revision = "safe2"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite checked it as it rebuilt the table
        op.execute("ALTER TABLE purchases VALIDATE CONSTRAINT fk_purchases_referrer_id_users")


def downgrade() -> None:
    pass  # a validated constraint goes with the column, in safe2's downgrade
