"""orders promo code validated

The foreign key `orders.promo_code_id` → `promo_codes`, added NOT VALID by 0b5e8d3f6a21, is
validated in a transaction of its own: on PostgreSQL the scan of `orders` takes SHARE UPDATE
EXCLUSIVE, which lets orders be opened and paid meanwhile. SQLite checks a REFERENCES clause as
the column is added: nothing to do there.

Revision ID: 5c7e9a1b3d24
Revises: 0b5e8d3f6a21
Create Date: 2026-12-08 02:10:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5c7e9a1b3d24"
down_revision: str | Sequence[str] | None = "0b5e8d3f6a21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_promo_code_id_promo_codes")


def downgrade() -> None:
    pass  # a validated constraint goes with its column, in 0b5e8d3f6a21's downgrade
