"""Update handling with reads on a hot-standby replica (DATABASE_READ_URL) against all on the
primary, in the same run.

A throwaway PostgreSQL primary and its streaming replica (tests/scripts/pg_replica.sh, both on
this machine, so the replica adds no capacity here: this shows what the routing costs, and
how many statements leave the primary). The update mix and dispatcher of bench.updates; the
replica's watch runs once a second as in the bot. In the mix each user's /start writes, so
their next screens read from the primary until the replica has replayed past it (read your
writes), unless their /start changed nothing (a returning user, as from the second batch on).

    .venv/bin/python -m bench.replica [--repeat 3] [--updates 800]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench._common import (
    median,
    ms,
    parse_args,
    percentile,
    prepare_process,
    print_header,
    print_table,
    times,
)
from bench.updates import UPDATES_PER_BATCH, Batch, Bench, Serving, build_bench, database_variant
from bot.dao.database import create_engine
from bot.serving.replica import ReplicaReads
from tests.support.replica import in_step, replica_pair

CONCURRENCY = {"sequential": 1, "8 in flight": 8}
MAX_LAG = 5.0


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[int]]:
    """[statements sent] by this engine while the block runs."""
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def measure(
    primary_url: str, replica_url: str, repeat: int, count: int
) -> dict[tuple[str, str], tuple[list[Batch], float]]:
    """(variant, mode) → the batches and the share of statements the replica answered."""
    bench: Bench = build_bench()
    results: dict[tuple[str, str], tuple[list[Batch], float]] = {}
    all_on_primary = database_variant("all on the primary", primary_url, Serving("postgresql"))
    async with all_on_primary as primary:
        assert primary.engine is not None
        read_engine = create_engine(make_url(replica_url))
        reads = ReplicaReads(primary.engine, read_engine, max_lag=MAX_LAG)
        try:
            await in_step(reads)
            watch = asyncio.create_task(reads.watch())
            variants = [
                primary,
                replace(primary, name="reads on the replica", reads=reads),
            ]
            for variant in variants:
                await bench.run(variant, min(count, 100), 8)  # warm-up
            for _ in range(repeat):
                for variant in variants:
                    for mode, in_flight in CONCURRENCY.items():
                        with (
                            counting(primary.engine) as on_primary,
                            counting(read_engine) as on_replica,
                        ):
                            batch = await bench.run(variant, count, in_flight)
                        batches, _share = results.get((variant.name, mode), ([], 0.0))
                        share = on_replica[0] / max(1, on_primary[0] + on_replica[0])
                        results[variant.name, mode] = ([*batches, batch], share)
            watch.cancel()
        finally:
            await read_engine.dispose()
    return results


def add_own_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--updates", type=int, default=UPDATES_PER_BATCH)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=3, add_own=add_own_flags)
    if "postgresql" not in args.backends:
        print("bench.replica: read replicas are PostgreSQL's; nothing to measure on SQLite")
        return
    prepare_process()
    print_header(
        "Reads on a hot-standby replica against all on the primary",
        f"Dispatcher.feed_update, {args.updates} updates per batch, medians over {args.repeat} "
        "batches; a primary and its streaming replica on this machine.",
    )
    with replica_pair() as pair, pair.database() as database:
        results = asyncio.run(
            measure(
                database.primary.url_string, database.replica.url_string, args.repeat, args.updates
            )
        )
    rows = []
    for (name, mode), (batches, share) in results.items():
        rate = median([args.updates / batch.seconds for batch in batches])
        base = median([args.updates / b.seconds for b in results["all on the primary", mode][0]])
        latencies = [latency for batch in batches for latency in batch.latencies]
        rows.append(
            [
                name,
                mode,
                f"{rate:.0f}",
                times(rate, base),
                ms(percentile(latencies, 0.5)),
                ms(percentile(latencies, 0.99)),
                f"{share:.0%}",
            ]
        )
    print_table(
        ["reads", "mode", "updates/s", "vs primary", "p50 ms", "p99 ms", "on replica"], rows
    )


if __name__ == "__main__":
    main()
