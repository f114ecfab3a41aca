"""products search text

`products.search_text`: the product's name and description case folded (ё read as е), what
/search and inline mode look in, so a search ignores case in Russian as in English on both
backends (SQLite's lower() and LIKE fold only ASCII).

A nullable column without a default is one `ADD COLUMN` on both backends, no rewrite. The
existing rows are filled in batches of BATCH, in Python (`str.casefold`, which no SQL function
matches on both backends), inside the revision's transaction: it stays all or nothing. Each
batch's rows stay locked until the revision commits; only admins write products, and a shop's
catalog is thousands of rows, not millions. As offline SQL (`alembic upgrade --sql`) it only
adds the column: the bot folds the products left without one when it starts
(bot.workers.search_text), as it does those an older release adds during a rolling deploy.

Downgrade drops the column.

Revision ID: 3e7a9c1f5b42
Revises: 9d1f3a5c7e20
Create Date: 2026-12-08 05:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "3e7a9c1f5b42"
down_revision: str | Sequence[str] | None = "9d1f3a5c7e20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
products = sa.table(
    "products",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("search_text", sa.Text()),
)


def _folded(name: str | None, description: str | None) -> str:
    """As bot.dao.models.searchable folds it (a revision never imports the application)."""
    return f"{name or ''}\n{description or ''}".casefold().replace("ё", "е")


def upgrade() -> None:
    op.add_column("products", sa.Column("search_text", sa.Text(), nullable=True))
    if context.is_offline_mode():  # no rows to read: the bot folds them at its next start
        return
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(products.c.id, products.c.name, products.c.description)
            .where(products.c.id > after)
            .order_by(products.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.update(products)
            .where(products.c.id == sa.bindparam("row_id"))
            .values(search_text=sa.bindparam("folded")),
            [{"row_id": id_, "folded": _folded(name, text)} for id_, name, text in rows],
        )
        after = rows[-1].id


def downgrade() -> None:
    op.drop_column("products", "search_text")
