"""What the benchmarks share: timing, tables, throwaway databases, synthetic revision chains.

Absolute times mean little on a shared machine, so every script measures its baseline in the
same run, interleaved with what it compares, and prints medians and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import rev_id
from loguru import logger
from sqlalchemy import text
from sqlalchemy.engine import URL

from bot.dao.database import create_engine
from bot.log import setup_logging
from bot.migration import MigrationOptions, MigrationReport, migrate
from bot.migration.revisions import PROJECT_ROOT, Revisions, alembic_config
from tests.fakes.bot_api import FakeBotAPI
from tests.support.databases import ThrowawayDatabase, postgres_reachable, throwaway_database
from tests.support.processes import (
    ALEMBIC,
    MAIN,
    TEST_TOKEN,
    clean_env,
    run_command,
    write_alembic_ini,
)

__all__ = [
    "ALEMBIC",
    "MAIN",
    "TEST_TOKEN",
    "ThrowawayDatabase",
    "clean_env",
    "throwaway_database",
]

BACKENDS = ("postgresql", "sqlite")
CHAIN_LENGTHS = (10, 100, 1000)
PYTHON = sys.executable


# ---------------------------------------------------------------------------- arguments


def parse_args(
    description: str,
    *,
    repeat: int,
    lengths: Sequence[int] | None = None,
    add_own: Callable[[argparse.ArgumentParser], object] | None = None,
) -> argparse.Namespace:
    """The flags every script takes; `add_own` adds a script's own (e.g. a smaller run)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--repeat", type=int, default=repeat, help=f"samples per median (default {repeat})"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        action="append",
        help="run on this backend only (repeatable; default: both)",
    )
    if lengths is not None:
        add_numbers_flag(
            parser, "--lengths", lengths, "synthetic revisions on top of the project's"
        )
    if add_own is not None:
        add_own(parser)
    args = parser.parse_args()
    args.backends = tuple(args.backend or BACKENDS)
    if "postgresql" in args.backends:
        reason = postgres_reachable()
        if reason is not None:
            sys.exit(
                f"PostgreSQL is not reachable ({reason}); set TEST_DATABASE_URL or pass "
                "--backend sqlite"
            )
    return args


def add_numbers_flag(
    parser: argparse.ArgumentParser, flag: str, default: Sequence[int], meaning: str
) -> None:
    """A flag taking one or more whole numbers, e.g. `--lengths 10 100`."""
    parser.add_argument(
        flag,
        type=int,
        nargs="+",
        default=list(default),
        help=f"{meaning} (default {' '.join(map(str, default))})",
    )


# ---------------------------------------------------------------------------- measuring


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(samples)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def run_checked(
    command: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 600
) -> float:
    """Run `command` to completion; its wall time in seconds. A failure is an error, not a
    sample: a benchmark of a broken run would measure the wrong thing."""
    started = time.perf_counter()
    completed = run_command(command, env, cwd, timeout)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {completed.returncode}:\n{completed.stderr[-3000:]}"
        )
    return elapsed


def import_seconds(module: str, *, cwd: Path, repeat: int) -> tuple[float, float]:
    """Median wall time of a bare `python -c pass` and of a process that imports `module`,
    then leaves with os._exit: the tear-down of aiogram's thousands of pydantic classes takes
    half a second, which a process that goes on serving never pays at start."""
    env = clean_env(PYTHONPATH=str(PROJECT_ROOT))
    bare: list[float] = []
    loaded: list[float] = []
    for _ in range(repeat):
        bare.append(run_checked([PYTHON, "-c", "pass"], env=env, cwd=cwd))
        code = f"import os, {module}; os._exit(0)"
        loaded.append(run_checked([PYTHON, "-c", code], env=env, cwd=cwd))
    return median(bare), median(loaded)


async def floor_seconds(url: URL) -> float:
    """The floor of any start-up check: an engine set up, connected, `SELECT version_num`,
    disposed."""
    started = time.perf_counter()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def timed_migrate(url: URL, options: MigrationOptions) -> tuple[float, MigrationReport]:
    """`migrate()` as a starting process calls it: its own engine, connected and disposed."""
    started = time.perf_counter()
    engine = create_engine(url)
    try:
        report = await migrate(engine, options)
    finally:
        await engine.dispose()
    return time.perf_counter() - started, report


@contextmanager
def with_fake_bot_api(prefix: str) -> Iterator[tuple[Path, FakeBotAPI]]:
    """A scratch directory (the bots' working directory) and the fake Bot API they talk to."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch, FakeBotAPI() as fake:
        yield Path(scratch), fake


@contextmanager
def bot_database(backend: str, cwd: Path, api_url: str) -> Iterator[dict[str, str]]:
    """A throwaway database at head; yields the environment of a bot on it that talks to the
    fake Bot API at `api_url`."""
    with throwaway_database(backend, cwd) as database:
        asyncio.run(timed_migrate(database.url, MigrationOptions()))
        yield clean_env(DATABASE_URL=database.url_string, BOT_TOKEN=TEST_TOKEN, BOT_API_URL=api_url)


def prepare_process() -> None:
    """The same conditions in this process as in the subprocesses it starts: bytecode (and the
    revisions' cache beside it) written as Python does by default, whatever
    PYTHONDONTWRITEBYTECODE says; logging set up as the bot does (stdlib routed into loguru,
    INFO) into a sink that discards: formatting is paid as in production, the output stays
    readable."""
    sys.dont_write_bytecode = False
    setup_logging("INFO")
    logger.remove()
    logger.add(lambda _message: None, level="INFO")


# ---------------------------------------------------------------------------- printing


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def sec(seconds: float) -> str:
    return f"{seconds:.2f}"


def times(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x"


def machine() -> str:
    cpu = "unknown CPU"
    with Path("/proc/cpuinfo").open() as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{len(os.sched_getaffinity(0))} cores ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average at start {load}"
    )


def print_header(title: str, note: str) -> None:
    print(f"## {title}\n\n{machine()}\n\n{note}\n", flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(headers), *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            + " |"
        )

    print(line(cells[0]))
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    print(flush=True)


# ---------------------------------------------------------------------------- revision chains


@dataclass(frozen=True)
class Chain:
    """`length` generated revisions on top of the project's own, so the real schema is created
    too and every caller (embedded, CLI, the head alone) sees the same graph."""

    length: int
    versions: Path
    ini: Path  # for the alembic CLI: the project's env.py, both versions directories
    head: str

    @property
    def extra(self) -> tuple[Path, ...]:
        return (self.versions,) if self.length else ()


@contextmanager
def synthetic_chain(length: int) -> Iterator[Chain]:
    """A linear chain written by alembic itself from the project's script.py.mako; each revision
    creates one tiny table, so a full upgrade does real (if small) DDL per revision. The
    revisions' cache for these version locations, beside the project's bytecode, goes with it."""
    with tempfile.TemporaryDirectory(prefix=f"shopbot-bench-chain{length}-") as directory:
        root = Path(directory)
        versions = root / "versions"
        versions.mkdir()
        config = alembic_config([versions])
        config.cmd_opts = argparse.Namespace(quiet=True)  # no "Generating ..." per revision
        # No post-write hooks (ruff, squawk): three processes per generated file, for nothing.
        config.set_section_option("post_write_hooks", "hooks", "")
        script = ScriptDirectory.from_config(config)
        revisions = Revisions(config)
        head = revisions.head()
        for index in range(length):
            table = f"bench_{index:04d}"
            column = 'sa.Column("id", sa.Integer, primary_key=True)'
            generated = script.generate_revision(
                rev_id(),
                f"bench revision {index}",
                head=head,
                version_path=str(versions),
                upgrades=f'op.create_table("{table}", {column})',
                downgrades=f'op.drop_table("{table}")',
            )
            assert generated is not None and Path(generated.path).parent == versions
            head = generated.revision
        ini = write_alembic_ini(root / "alembic.ini", versions)
        try:
            yield Chain(length, versions, ini, head)
        finally:
            revisions.discard_cache()


def alembic_upgrade_command(chain: Chain, database: ThrowawayDatabase) -> list[str]:
    return [
        str(ALEMBIC),
        "-c",
        str(chain.ini),
        "-x",
        f"url={database.url_string}",
        "upgrade",
        "head",
    ]
