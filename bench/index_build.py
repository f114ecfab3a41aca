"""What an index build on a big table does to the purchases being recorded meanwhile: the same
index on `purchases` built by a revision plainly (tests/migrations_testonly/plain_index) and
CONCURRENTLY in an autocommit block (concurrent_index), by `migrate()`, while a buyer records
a purchase every 10 ms, each in its own transaction, as a serving instance does.

A purchase's stall is how long its INSERT and COMMIT took; the table shows the longest and the
99th percentile during the build, next to the same buyer's before the build (the baseline,
measured in the same round). PostgreSQL only: SQLite has one writer at a time, and a build
there holds it whatever the revision says. The database is filled outside the timing.

    .venv/bin/python -m bench.index_build [--repeat 3] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bench._common import (
    median,
    ms,
    parse_args,
    percentile,
    prepare_process,
    print_header,
    print_table,
    sec,
    throwaway_database,
    timed_migrate,
)
from bot.dao.database import create_engine
from bot.migration import MigrationOptions
from tests.migrations_testonly.scenarios import real_head, scenario

INDEX = "ix_purchases_testonly_amount"
VARIANTS = ("plain_index", "concurrent_index")
BUY_EVERY = 0.010  # seconds between two purchases
BASELINE_SECONDS = 1.0  # the buyer alone, before each build


async def fill(engine: AsyncEngine, rows: int) -> None:
    """A shop at head with `rows` purchases by 1,000 users, analyzed."""
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO categories (id, name) VALUES (1, 'Keys')"))
        await conn.execute(
            text(
                "INSERT INTO products (id, category_id, name, description, price, currency, "
                "hidden_content) VALUES (1, 1, 'Key', 'd', 5, 'XTR', 'K')"
            )
        )
        await conn.execute(
            text("INSERT INTO users (telegram_id) SELECT g FROM generate_series(1, 1000) g")
        )
        await conn.execute(
            text(
                "INSERT INTO purchases (user_id, product_id, amount, currency, provider, "
                "charge_id) SELECT 1 + g % 1000, 1, 1 + g % 500, 'XTR', 'stars', 'c' || g "
                "FROM generate_series(1, :rows) g"
            ),
            {"rows": rows},
        )
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE purchases"))


async def buy(engine: AsyncEngine, stalls: list[float], until: asyncio.Event) -> None:
    """A purchase every BUY_EVERY seconds until `until` is set; each one's time in `stalls`."""
    number = 0
    while not until.is_set():
        number += 1
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO purchases (user_id, product_id, amount, currency, provider, "
                    "charge_id) VALUES (1, 1, 5, 'XTR', 'stars', :charge)"
                ),
                {"charge": f"bench-{time.monotonic_ns()}-{number}"},
            )
        stalls.append(time.perf_counter() - started)
        await asyncio.sleep(BUY_EVERY)


async def reset(engine: AsyncEngine, head: str) -> None:
    """Back to the real head without the test index, for the next build."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"DROP INDEX IF EXISTS {INDEX}"))
        await conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


async def one_build(
    url: URL, engine: AsyncEngine, versions: Path
) -> tuple[float, list[float], list[float]]:
    """The build's seconds, and the purchases' times before it and during it."""
    before: list[float] = []
    during: list[float] = []
    baseline_over = asyncio.Event()
    buyer = asyncio.create_task(buy(engine, before, baseline_over))
    await asyncio.sleep(BASELINE_SECONDS)
    baseline_over.set()
    await buyer
    build_over = asyncio.Event()
    buyer = asyncio.create_task(buy(engine, during, build_over))
    # The guard would refuse the plain build on a million rows: its stall is what we measure.
    options = MigrationOptions(
        ddl_lock_timeout=60, guard="off", extra_version_locations=(versions,)
    )
    seconds, _report = await timed_migrate(url, options)
    build_over.set()
    await buyer
    return seconds, before, during


async def measure(url: URL, rows: int, repeat: int, scratch: Path) -> list[list[str]]:
    head = real_head()
    versions = {name: scenario(name, into=scratch) for name in VARIANTS}
    results: dict[str, list[tuple[float, list[float], list[float]]]] = {v: [] for v in VARIANTS}
    await timed_migrate(url, MigrationOptions())
    engine = create_engine(url)
    try:
        await fill(engine, rows)
        for round_number in range(repeat):
            order = VARIANTS if round_number % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                results[variant].append(await one_build(url, engine, versions[variant]))
                await reset(engine, head)
    finally:
        await engine.dispose()
    table = []
    for variant in VARIANTS:
        builds = results[variant]
        before = [stall for _, samples, _ in builds for stall in samples]
        during = [stall for _, _, samples in builds for stall in samples]
        table.append(
            [
                variant.replace("_index", ""),
                sec(median([seconds for seconds, _, _ in builds])),
                ms(max(before)),
                ms(max(during)),
                ms(percentile(during, 0.99)),
                str(round(median([len(samples) for _, _, samples in builds]))),
            ]
        )
    return table


def main() -> None:
    def own(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=1_000_000, help="purchases in the table")

    args = parse_args(__doc__ or "", repeat=3, add_own=own)
    if "postgresql" not in args.backends:
        print("bench.index_build: PostgreSQL only (SQLite has one writer whatever the build)")
        return
    prepare_process()
    print_header(
        f"Index build on purchases ({args.rows:,} rows) while purchases are recorded",
        f"A buyer records a purchase every {BUY_EVERY * 1000:.0f} ms; {args.repeat} builds of "
        "each kind, in turns; build time is the median, the longest purchase the maximum over "
        f"all builds, the baseline the same buyer's {BASELINE_SECONDS:g} s before each build.",
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-index-") as scratch,
        throwaway_database("postgresql", Path(scratch)) as database,
    ):
        table = asyncio.run(measure(database.url, args.rows, args.repeat, Path(scratch)))
    print_table(
        [
            "build",
            "build s",
            "longest purchase before, ms",
            "longest purchase during, ms",
            "p99 during, ms",
            "purchases during",
        ],
        table,
    )


if __name__ == "__main__":
    main()
