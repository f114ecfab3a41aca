"""What the SQLite copy before a migration costs, next to the upgrade it precedes, on a shop with
100,000 purchases.

Two upgrades of such a shop (`tests/migrations_testonly/living_shop.py`): a release's worth,
the project's own revisions from the first one to head (the shop filled at the first); and one
small revision, `tests/migrations_testonly/rebuild` (a batch `alter_column` that rebuilds
products, 12 rows), on the shop at head. Each is applied by `migrate()` as the bot calls it
(its own engine, connected and disposed) with MIGRATION_BACKUPS=0 (the upgrade's own time) and
with copies on (the default); and the copy alone is timed on the same database
(`bot.migration.backups.back_up` on a connection of the migrator's engine). The three are
interleaved, each on a fresh file copied from a database filled once outside the timing
(so each reads the same, warm file), and the ratio is the copy's median over the upgrade's.
PostgreSQL gets no copy, so there is nothing to measure there.

    .venv/bin/python -m bench.backup [--repeat 5] [--purchases 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from bench._common import (
    median,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    sec,
    throwaway_database,
    timed_migrate,
    times,
)
from bot.dao.database import create_engine
from bot.migration import MigrationOptions
from bot.migration.backups import back_up, copies_of
from bot.migration.revisions import Revisions, alembic_config
from tests.migrations_testonly.living_shop import insert_as_it_is, open_shop, shop_rows
from tests.migrations_testonly.scenarios import real_head, scenario
from tests.support.databases import ThrowawayDatabase, sqlite_database

PROJECT_REVISIONS = Revisions(alembic_config()).pending(())


def add_own(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--purchases", type=int, default=100_000, help="purchases in the shop (default 100000)"
    )


def _at_first_revision(database: ThrowawayDatabase) -> None:
    """The project's first revision only, applied by alembic on the migrator's connection."""
    config = alembic_config()

    def upgrade(conn: Connection) -> None:
        config.attributes["connection"] = conn
        command.upgrade(config, PROJECT_REVISIONS[0])

    async def run() -> None:
        engine = create_engine(database.url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(upgrade)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def _release(database: ThrowawayDatabase, purchases: int) -> None:
    _at_first_revision(database)
    insert_as_it_is(database, shop_rows(purchases=purchases))


def _at_head(database: ThrowawayDatabase, purchases: int) -> None:
    open_shop(database, shop_rows(purchases=purchases))


async def _timed_copy(database: ThrowawayDatabase, current: str, target: str) -> float:
    engine = create_engine(database.url)
    try:
        async with engine.connect() as conn:
            started = time.perf_counter()
            copy = await back_up(conn, (current,), target, keep=1)
            elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    assert copy is not None, "the shop has rows: a copy was due"
    return elapsed


def _row(
    name: str,
    fill: Callable[[ThrowawayDatabase, int], None],
    extra: tuple[Path, ...],
    from_to: tuple[str, str],
    args: argparse.Namespace,
    cwd: Path,
) -> list[object]:
    with throwaway_database("sqlite", cwd) as filled:
        fill(filled, args.purchases)
        template = filled.path
        assert template is not None
        size = template.stat().st_size
        upgrade: list[float] = []
        copying: list[float] = []
        with_copy: list[float] = []
        for _ in range(args.repeat):
            for backups, samples in ((0, upgrade), (None, copying), (3, with_copy)):
                with (
                    tempfile.TemporaryDirectory(dir=cwd) as sample_dir,
                    sqlite_database(Path(sample_dir)) as database,
                ):
                    assert database.path is not None
                    shutil.copyfile(template, database.path)
                    if backups is None:
                        samples.append(asyncio.run(_timed_copy(database, *from_to)))
                        continue
                    options = MigrationOptions(extra_version_locations=extra, backups=backups)
                    seconds, report = asyncio.run(timed_migrate(database.url, options))
                    assert report.applied, report.summary()
                    assert len(copies_of(database.path)) == (1 if backups else 0)
                    samples.append(seconds)
    return [
        name,
        f"{args.purchases:,}",
        f"{size / 1e6:.1f}",
        sec(median(upgrade)),
        sec(median(copying)),
        times(median(copying), median(upgrade)),
        sec(median(with_copy)),
        times(median(with_copy), median(upgrade)),
    ]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=5, add_own=add_own)
    prepare_process()
    if "sqlite" not in args.backends:
        print("bench.backup: PostgreSQL gets no copy; nothing to measure there")
        return
    print_header(
        "The SQLite copy before a migration, next to the upgrade",
        f"Medians of {args.repeat} in seconds, interleaved, each on a fresh copy of one filled "
        "database; copy/upgrade is the copy alone over the upgrade without one.",
    )
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-backup-") as scratch:
        cwd = Path(scratch)
        release = (
            f"project's {len(PROJECT_REVISIONS) - 1} revisions",
            _release,
            (),
            (PROJECT_REVISIONS[0], PROJECT_REVISIONS[-1]),
        )
        rebuild = (
            "one revision (rebuild products)",
            _at_head,
            (scenario("rebuild", into=cwd),),
            (real_head(), "rebuild1"),
        )
        rows = [_row(*upgrade, args, cwd) for upgrade in (release, rebuild)]
    print_table(
        [
            "upgrade",
            "purchases",
            "database MB",
            "upgrade s",
            "copy s",
            "copy/upgrade",
            "upgrade with copy s",
            "with/without",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
