"""Issue 5, item 2: a full upgrade from an empty database to head, embedded vs the alembic CLI.

The same synthetic chains as item 1 (the project's revision, then N revisions that each create
a tiny table), applied by `migrate()` on a running loop and by `alembic upgrade head` as a
subprocess. Every sample starts from a fresh empty database, created outside the timing.

    .venv/bin/python -m bench.full_upgrade [--repeat 3] [--backend sqlite] [--lengths 10 100]
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bench._common import (
    CHAIN_LENGTHS,
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
                            assert len(report.applied) == length + 1, report.summary()
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
                            ms(median(embedded) / (length + 1)),
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


if __name__ == "__main__":
    main()
