"""The plan of an upgrade: each statement the pending revisions would run, the lock it takes,
whether it blocks writes for long, and how big its table is on the live database.

Reading the database only (no lock of ours, no write, no version recorded), so it runs on a
replica too. On PostgreSQL a table's size is `pg_class.reltuples` (the planner's estimate; a
table never analyzed is counted, up to the threshold) and `pg_total_relation_size`; a table
that does not exist yet is new. On SQLite the statements are the same PostgreSQL rendering:
a statement that alters a table is a batch operation, which SQLite does by copying the table
(a plain ADD COLUMN aside), an index build reads all of it; either holds SQLite's one write
lock as long as the table takes, so those count, with the table's `count(*)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.migration.offline import RevisionSQL, render
from bot.migration.revisions import VERSION_TABLE, Revisions
from bot.migration.statements import Classifier, Effect, not_null_column

SQLITE_LOCK = "the write lock"
_SHOWN_SQL = 120  # characters of a statement a line shows


@dataclass(frozen=True)
class TableSize:
    rows: int | None  # None: the table does not exist (yet)
    size: int | None = None  # bytes, on PostgreSQL
    capped: bool = False  # never analyzed: counted up to one past the threshold, and it got there

    def describe(self) -> str:
        if self.rows is None:
            return "new"
        rows = f"more than {self.rows - 1:,} rows" if self.capped else f"~{self.rows:,} rows"
        return f"{rows}, {_bytes(self.size)}" if self.size is not None else rows


@dataclass(frozen=True)
class Step:
    """One statement of one revision, judged for the database it will run on."""

    revision: str
    effect: Effect
    lock: str | None
    blocks_writes: bool
    why: str  # what holds the lock so long, when it blocks writes
    table: str | None
    size: TableSize | None

    def over(self, rows: int) -> bool:
        """Blocks writes on a table above `rows` rows."""
        return bool(self.blocks_writes and self.size and self.size.rows and self.size.rows > rows)

    def statement(self, limit: int = _SHOWN_SQL) -> str:
        sql = self.effect.sql
        return sql if len(sql) <= limit else sql[: limit - 1] + "…"

    def line(self, rows: int) -> str:
        verdict = "BLOCKS" if self.over(rows) else "blocks" if self.blocks_writes else "-"
        table = self.table or (f"index {self.effect.index}" if self.effect.index else "-")
        table += "".join(f" +{other}" for other in self.effect.others if self.blocks_writes)
        size = self.size.describe() if self.size is not None else ""
        return (
            f"  {verdict:<6}  {self.lock or '-':<22}  {table:<24}  {size:<26}  {self.statement()}"
        )


@dataclass(frozen=True)
class Plan:
    backend: str
    revisions: tuple[RevisionSQL, ...]
    steps: tuple[Step, ...]

    def over(self, rows: int) -> list[Step]:
        return [step for step in self.steps if step.over(rows)]

    def lines(self, rows: int, descriptions: dict[str, str]) -> list[str]:
        """The plan as a person reads it: each revision, then its statements."""
        out = []
        for revision in self.revisions:
            title = descriptions.get(revision.revision, "").strip().splitlines()
            out.append(f"revision {revision.revision}" + (f": {title[0]}" if title else ""))
            if revision.error is not None:
                out.append(f"  not planned: it cannot run offline ({revision.error})")
            out += [step.line(rows) for step in self.steps if step.revision == revision.revision]
        return out


async def make_plan(
    conn: AsyncConnection,
    revisions: Revisions,
    current: Sequence[str],
    *,
    rows: int,
    destination: str = "head",
    every_table: bool = False,
) -> Plan:
    """The plan of an upgrade from `current` to `destination`. Sizes are looked up for the
    statements that block writes, or for `every_table`; `rows` caps a count. Leaves no
    transaction open."""
    rendered = render(revisions, current, destination)
    sqlite = conn.dialect.name == "sqlite"
    statements = [(r.revision, sql) for r in rendered for sql in r.statements]
    validated = set() if sqlite else await _validated_not_null(conn, statements)
    classifier = Classifier(validated)
    effects = [(rev, effect) for rev, sql in statements if (effect := classifier.classify(sql))]
    effects = [(rev, e) for rev, e in effects if e.table != VERSION_TABLE]
    if sqlite:
        effects = _one_per_rebuild(effects)
    wanted = {
        e.table or e.index or ""
        for _, e in effects
        if (every_table or _blocks(e, sqlite=sqlite)) and (e.table or e.index)
    }
    if sqlite:
        tables = {name: name for name in wanted}
        sizes = await _sqlite_sizes(conn, wanted)
    else:
        tables, sizes = await _postgresql_sizes(conn, wanted, rows)
    await conn.rollback()
    steps = []
    for revision, effect in effects:
        named = effect.table or effect.index
        table = tables.get(named) if named else None
        steps.append(
            Step(
                revision,
                effect,
                _lock(effect, sqlite=sqlite),
                _blocks(effect, sqlite=sqlite),
                _sqlite_why(effect) if sqlite else effect.why,
                table or effect.table,
                sizes.get(table) if table else None,
            )
        )
    return Plan(conn.dialect.name, tuple(rendered), tuple(steps))


def _lock(effect: Effect, *, sqlite: bool) -> str | None:
    if sqlite:
        return SQLITE_LOCK if effect.scans_on_sqlite else None
    return effect.lock


def _sqlite_why(effect: Effect) -> str:
    if effect.sql[:5].upper() == "ALTER":
        doing = "copies the table (SQLite's batch rebuild)"
    elif effect.sql[:6].upper() == "CREATE":
        doing = "builds the index"
    else:
        doing = "writes every row"
    return f"{doing} while SQLite's one write lock keeps every writer waiting"


def _blocks(effect: Effect, *, sqlite: bool) -> bool:
    return effect.scans_on_sqlite if sqlite else effect.blocks_writes


def _one_per_rebuild(effects: list[tuple[str, Effect]]) -> list[tuple[str, Effect]]:
    """A batch operation's statements on one table, in a row, are one copy of it on SQLite."""
    kept: list[tuple[str, Effect]] = []
    for revision, effect in effects:
        previous = kept[-1] if kept else None
        if (
            previous is not None
            and effect.scans_on_sqlite
            and previous[1].scans_on_sqlite
            and previous[0] == revision
            and previous[1].table == effect.table
            and effect.sql.upper().startswith("ALTER")
        ):
            continue
        kept.append((revision, effect))
    return kept


async def _validated_not_null(
    conn: AsyncConnection, statements: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The (table, column) pairs with a validated `CHECK (column IS NOT NULL)` already, asked
    only when a SET NOT NULL is pending."""
    if not any("SET NOT NULL" in " ".join(sql.upper().split()) for _, sql in statements):
        return set()
    rows = await conn.execute(
        text(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'c' AND convalidated"
        )
    )
    found = {(table, not_null_column(definition)) for table, definition in rows}
    return {(table, column) for table, column in found if column is not None}


async def _postgresql_sizes(
    conn: AsyncConnection, names: set[str], cap: int
) -> tuple[dict[str, str], dict[str, TableSize]]:
    """Each name's table (an index names its table) and each table's size."""
    if not names:
        return {}, {}
    result = await conn.execute(
        text(
            "SELECT name, coalesce(i.indrelid, c.oid)::regclass::text, t.reltuples::bigint, "
            "pg_total_relation_size(t.oid) "
            "FROM unnest(CAST(:names AS text[])) AS name "
            "LEFT JOIN pg_class c ON c.oid = to_regclass(name) "
            "LEFT JOIN pg_index i ON i.indexrelid = c.oid "
            "LEFT JOIN pg_class t ON t.oid = coalesce(i.indrelid, c.oid)"
        ),
        {"names": sorted(names)},
    )
    tables, sizes = {}, {}
    for name, table, estimate, size in result.all():
        tables[name] = table or name
        if table is None:
            sizes[name] = TableSize(None)
        elif estimate >= 0:
            sizes[table] = TableSize(int(estimate), int(size))
        else:  # never vacuumed nor analyzed: PostgreSQL keeps no estimate
            limited = f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT :cap) AS rows"
            counted = (await conn.execute(text(limited), {"cap": cap + 1})).scalar_one()
            sizes[table] = TableSize(counted, int(size), capped=counted > cap)
    return tables, sizes


async def _sqlite_sizes(conn: AsyncConnection, names: set[str]) -> dict[str, TableSize]:
    existing = {
        row[0]
        for row in await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
    }
    sizes = {}
    for name in names:
        if name.strip('"') not in existing:
            sizes[name] = TableSize(None)
            continue
        count = (await conn.execute(text(f"SELECT count(*) FROM {name}"))).scalar_one()
        sizes[name] = TableSize(int(count))
    return sizes


def _bytes(size: int | None) -> str:
    value, unit = float(size or 0), "bytes"
    for larger in ("kB", "MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
