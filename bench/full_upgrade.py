"""How long a full upgrade takes, from an empty database to head: embedded migrate() vs the
alembic CLI; and how long one revision takes that rebuilds a referenced table on a living shop.

The same synthetic chains as `bench.noop_check` (the project's revision, then N revisions that
each create a tiny table), applied by `migrate()` on a running loop and by `alembic upgrade head`
as a subprocess. Every sample starts from a fresh empty database, created outside the timing.

The rebuild: tests/migrations_testonly/rebuild (a batch `alter_column` on products, which
purchases reference: on SQLite the table is rebuilt with foreign keys off and checked before the
commit; on PostgreSQL a plain ALTER), applied the same two ways to a database at the real head
holding a shop with 10,000 purchases, against the same revision on the same shop without
purchases. The database is made and filled outside the timing.

    .venv/bin/python -m bench.full_upgrade [--repeat 3] [--backend sqlite] [--lengths 10 100]
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench._common import (
    CHAIN_LENGTHS,
    Chain,
    alembic_upgrade_command,
    clean_env,
    median,
    ms,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    run_checked,
    sec,
    synthetic_chain,
    throwaway_database,
    timed_migrate,
    times,
)
from bot.migration import MigrationOptions
from bot.migration.revisions import Revisions, alembic_config
from tests.migrations_testonly.living_shop import open_shop, shop_rows
from tests.migrations_testonly.scenarios import scenario
from tests.support.processes import write_alembic_ini

# The project's own revisions, which every chain builds on.
REAL_REVISIONS = len(Revisions(alembic_config()).pending(()))

REBUILD = "rebuild1"
PURCHASES = (0, 10_000)  # the first is the baseline


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=3, lengths=CHAIN_LENGTHS)
    prepare_process()
    print_header(
        "Full upgrade from an empty database",
        f"Medians of {args.repeat} in seconds; a fresh database per sample.",
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-upgrade-") as scratch:
        cwd = Path(scratch)
        for length in args.lengths:
            with synthetic_chain(length) as chain:
                options = MigrationOptions(extra_version_locations=chain.extra)
                for backend in args.backends:
                    embedded, cli = [], []
                    for _ in range(args.repeat):
                        with throwaway_database(backend, cwd) as database:
                            seconds, report = asyncio.run(timed_migrate(database.url, options))
                            assert len(report.applied) == length + REAL_REVISIONS, report.summary()
                            embedded.append(seconds)
                        with throwaway_database(backend, cwd) as database:
                            command = alembic_upgrade_command(chain, database)
                            cli.append(run_checked(command, env=clean_env(), cwd=cwd))
                    rows.append(
                        [
                            backend,
                            length,
                            sec(median(embedded)),
                            sec(median(cli)),
                            times(median(cli), median(embedded)),
                            ms(median(embedded) / (length + REAL_REVISIONS)),
                            sec(median(cli) - median(embedded)),
                        ]
                    )
    print_table(
        [
            "backend",
            "revisions",
            "embedded s",
            "CLI s",
            "CLI/embedded",
            "embedded ms/revision",
            "CLI - embedded s",
        ],
        rows,
    )
    rebuild(args.backends, args.repeat)


def rebuild(backends: tuple[str, ...], repeat: int) -> None:
    print_header(
        "Rebuilding a referenced table (products) on a shop with purchases",
        f"Medians of {repeat}, with and without purchases interleaved; a fresh "
        "database at the real head, filled, per sample; the baseline is the same revision on "
        "the same shop without purchases.",
    )
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-rebuild-") as scratch:
        cwd = Path(scratch)
        versions = scenario("rebuild", into=cwd)
        chain = Chain(1, versions, write_alembic_ini(cwd / "alembic.ini", versions), REBUILD)
        rows = [row for backend in backends for row in _rebuild_rows(backend, chain, cwd, repeat)]
    print_table(
        [
            "backend",
            "purchases",
            "embedded ms",
            "CLI s",
            "CLI/embedded",
            "embedded vs none",
            "CLI vs none",
        ],
        rows,
    )


def _rebuild_rows(backend: str, chain: Chain, cwd: Path, repeat: int) -> list[list[object]]:
    options = MigrationOptions(extra_version_locations=chain.extra)
    embedded: dict[int, list[float]] = {purchases: [] for purchases in PURCHASES}
    cli: dict[int, list[float]] = {purchases: [] for purchases in PURCHASES}
    for _ in range(repeat):
        for purchases in PURCHASES:
            with throwaway_database(backend, cwd) as database:
                open_shop(database, shop_rows(purchases=purchases))
                seconds, report = asyncio.run(timed_migrate(database.url, options))
                assert [step.revision for step in report.applied] == [REBUILD]
                embedded[purchases].append(seconds)
            with throwaway_database(backend, cwd) as database:
                open_shop(database, shop_rows(purchases=purchases))
                command = alembic_upgrade_command(chain, database)
                cli[purchases].append(run_checked(command, env=clean_env(), cwd=cwd))
    base = median(embedded[PURCHASES[0]]), median(cli[PURCHASES[0]])
    rows: list[list[object]] = []
    for purchases in PURCHASES:
        inside, outside = median(embedded[purchases]), median(cli[purchases])
        rows.append(
            [
                backend,
                f"{purchases:,}",
                ms(inside),
                sec(outside),
                times(outside, inside),
                times(inside, base[0]),
                times(outside, base[1]),
            ]
        )
    return rows


if __name__ == "__main__":
    main()
