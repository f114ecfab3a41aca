"""How long many bot instances starting at once take to migrate: wall time from starting 1, 4
and 8 processes of `python main.py --migrate-only` together on an empty database until the last
one has exited.

Baselines from the same run: one process alone, and as many processes that only import what
`--migrate-only` imports (no database at all): on a small machine, N interpreters starting at
once compete for the CPU before any lock is taken. Each sample gets a fresh empty database;
exactly one process must report that it migrated.

    .venv/bin/python -m bench.many_instances [--repeat 3] [--backend sqlite] [--lengths 0 100]
        [--instances 1 4 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench._common import (
    MAIN,
    PYTHON,
    add_numbers_flag,
    clean_env,
    median,
    parse_args,
    print_header,
    print_table,
    sec,
    synthetic_chain,
    throwaway_database,
    times,
)

INSTANCES = (1, 4, 8)
MIGRATED = "schema migrated"


def launch_together(
    command: Sequence[str], count: int, env: dict[str, str], cwd: Path
) -> tuple[float, list[str]]:
    """Start `count` copies of `command` at once; seconds until all have exited, and outputs."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            list(command), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(count)
    ]
    outputs = [
        process.communicate(timeout=600)[0].decode(errors="replace") for process in processes
    ]
    elapsed = time.perf_counter() - started
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {process.returncode}:\n{output[-3000:]}"
            )
    return elapsed, outputs


def _measure(
    backend: str, extra: str, cwd: Path, repeat: int, instances: Sequence[int]
) -> list[list[object]]:
    """Per instance count: all exited, against one alone (the first count) and against
    imports only."""
    walls: dict[int, list[float]] = {count: [] for count in instances}
    starts: dict[int, list[float]] = {count: [] for count in instances}
    command = [PYTHON, str(MAIN), "--migrate-only"]
    imports_only = [PYTHON, "-c", "import main"]
    for _ in range(repeat):
        for count in instances:
            with throwaway_database(backend, cwd) as database:
                env = clean_env(DATABASE_URL=database.url_string, EXTRA_MIGRATION_DIRS=extra)
                wall, outputs = launch_together(command, count, env, cwd)
            migrated = sum(MIGRATED in output for output in outputs)
            assert migrated == 1, f"{migrated} of {count} processes migrated"
            walls[count].append(wall)
            env = clean_env(PYTHONPATH=str(MAIN.parent))
            starts[count].append(launch_together(imports_only, count, env, cwd)[0])
    alone = median(walls[instances[0]])
    rows: list[list[object]] = []
    for count in instances:
        wall, start = median(walls[count]), median(starts[count])
        rows.append([count, sec(wall), times(wall, alone), sec(start), sec(wall - start)])
    return rows


def add_instances_flag(parser: argparse.ArgumentParser) -> None:
    add_numbers_flag(
        parser, "--instances", INSTANCES, "processes started at once, the first is the baseline"
    )


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0], repeat=3, lengths=(0, 100), add_own=add_instances_flag
    )
    print_header(
        "Many instances migrating at once",
        f"Medians of {args.repeat} in seconds; lengths are synthetic revisions on top of the "
        "project's own (0: the project's chain alone).",
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-instances-") as scratch:
        for length in args.lengths:
            with synthetic_chain(length) as chain:
                extra = os.pathsep.join(str(path) for path in chain.extra)
                for backend in args.backends:
                    measured = _measure(backend, extra, Path(scratch), args.repeat, args.instances)
                    for row in measured:
                        rows.append([backend, length, *row])
    print_table(
        [
            "backend",
            "revisions",
            "processes",
            "all exited s",
            "vs 1 alone",
            "imports only s",
            "beyond imports s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
