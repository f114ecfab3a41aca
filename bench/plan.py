"""What `python main.py --plan` costs on a big shop: PostgreSQL with 1,000,000 purchases and one
pending revision that adds an index on purchases (tests/migrations_testonly/plain_index).

(a) `python main.py --plan` as a subprocess, the way a release step runs it;
(b) `alembic upgrade <head>:plain_index1 --sql`, alembic's own offline SQL of the same range, which
    a DBA would read instead (it touches no database);
(c) `python main.py --plan` with nothing pending: the command's start and schema check alone;
(d) in-process: the plan as `show_plan()` makes it (own engine, status, plan, dispose) against
    the floor, the same engine set-up, connect and `SELECT version_num`.
The purchases are made with INSERT ... SELECT generate_series and ANALYZEd outside the timing
(a live shop's autovacuum keeps `reltuples`); MIGRATION_GUARD_ROWS is set above the table so
the command exits 0. Probes are interleaved round by round; the first round only warms up.

    .venv/bin/python -m bench.plan [--repeat 5] [--purchases 1000000]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.engine import URL

from bench._common import (
    ALEMBIC,
    MAIN,
    PYTHON,
    add_numbers_flag,
    clean_env,
    floor_seconds,
    median,
    ms,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    run_checked,
    throwaway_database,
    times,
)
from bot.dao.database import create_engine
from bot.migration import MigrationOptions
from bot.migration.preview import show_plan
from tests.migrations_testonly.living_shop import open_shop, shop_rows
from tests.migrations_testonly.scenarios import real_head, scenario
from tests.support.databases import execute
from tests.support.processes import write_alembic_ini

PLAIN = "plain_index1"  # the pending revision: tests/migrations_testonly/plain_index
FILL = (
    "INSERT INTO purchases (user_id, product_id, amount, currency, provider, charge_id) "
    "SELECT 1 + g % 3, 1 + g % 12, 150, 'XTR', 'telegram_stars', 'bench-' || g "
    "FROM generate_series(1, {count}) AS g"
)


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        repeat=5,
        add_own=lambda parser: add_numbers_flag(
            parser, "--purchases", [1_000_000], "purchases in the shop"
        ),
    )
    prepare_process()
    [purchases] = args.purchases
    print_header(
        f"The plan of one pending index on PostgreSQL with {purchases:,} purchases",
        f"Medians of {args.repeat} in milliseconds, interleaved; PostgreSQL only (on SQLite the "
        "plan counts the rows of the tables a revision rebuilds).",
    )
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-plan-") as scratch:
        cwd = Path(scratch)
        versions = scenario("plain_index", into=cwd)
        ini = write_alembic_ini(cwd / "alembic.ini", versions)
        with throwaway_database("postgresql", cwd) as database:
            open_shop(database, shop_rows(purchases=0))
            execute(database.url, FILL.format(count=purchases))
            execute(database.url, "ANALYZE purchases")
            env = clean_env(
                DATABASE_URL=database.url_string, MIGRATION_GUARD_ROWS=str(purchases * 10)
            )
            pending = {**env, "EXTRA_MIGRATION_DIRS": str(versions)}
            options = MigrationOptions(
                extra_version_locations=(versions,), guard_rows=purchases * 10
            )
            probes: dict[str, Callable[[], Awaitable[float]]] = {
                "main.py --plan": _process([PYTHON, str(MAIN), "--plan"], pending, cwd),
                "alembic upgrade --sql": _process(
                    [str(ALEMBIC), "-c", str(ini), "upgrade", f"{real_head()}:{PLAIN}", "--sql"],
                    env,
                    cwd,
                ),
                "main.py --plan, nothing pending": _process(
                    [PYTHON, str(MAIN), "--plan"], env, cwd
                ),
                "show_plan() in-process": lambda: _in_process(database.url, options),
                "floor: SELECT version_num": lambda: floor_seconds(database.url),
            }
            found = asyncio.run(_rounds(probes, args.repeat))
    plan, sql, idle = (found[name] for name in list(probes)[:3])
    inside, floor = found["show_plan() in-process"], found["floor: SELECT version_num"]
    print_table(
        ["probe", "ms", "ratio"],
        [
            ["main.py --plan", ms(plan), "1.00x"],
            ["alembic upgrade --sql (same range)", ms(sql), times(sql, plan)],
            ["main.py --plan, nothing pending", ms(idle), times(idle, plan)],
            ["show_plan() in-process", ms(inside), "1.00x"],
            ["floor: connect, SELECT version_num", ms(floor), times(floor, inside)],
        ],
    )


def _process(command: list[str], env: dict[str, str], cwd: Path) -> Callable[[], Awaitable[float]]:
    async def probe() -> float:
        return await asyncio.to_thread(run_checked, command, env=env, cwd=cwd)

    return probe


async def _in_process(url: URL, options: MigrationOptions) -> float:
    started = time.perf_counter()
    engine = create_engine(url)
    try:
        await show_plan(engine, options, write=lambda _line: None)
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def _rounds(
    probes: dict[str, Callable[[], Awaitable[float]]], repeat: int
) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for round_number in range(repeat + 1):
        for name, probe in probes.items():
            elapsed = await probe()
            if round_number:
                samples[name].append(elapsed)
    return {name: median(values) for name, values in samples.items()}


if __name__ == "__main__":
    main()
