"""What the start-up check costs when the database is already at head.

(a) embedded `migrate()` on a running loop: now (the head from the cached summary of alembic's
    graph) and before (alembic's full revision map: every script imported);
(b) `alembic upgrade head` as a subprocess, what most bots run before starting;
(c) the floor: connect and `SELECT version_num FROM alembic_version`;
(d) finding the head alone: alembic's map, the summary on a cache miss, on a cache hit.
(a) and (c) each create their engine, connect and dispose, as a starting process does.
Probes are interleaved round by round; the first round only warms up.

    .venv/bin/python -m bench.noop_check [--repeat 15] [--backend sqlite] [--lengths 10 100]
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from unittest import mock

from alembic.util.exc import CommandError
from sqlalchemy.engine import URL

from bench._common import (
    CHAIN_LENGTHS,
    Chain,
    alembic_upgrade_command,
    clean_env,
    floor_seconds,
    import_seconds,
    median,
    ms,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    run_checked,
    synthetic_chain,
    throwaway_database,
    timed_migrate,
    times,
)
from bot.migration import MigrationOptions, runner
from bot.migration.errors import MultipleHeadsError
from bot.migration.revisions import Revisions, alembic_config

Probe = Callable[[], Awaitable[float]]


class FullMapRevisions(Revisions):
    """The code before any optimisation: the head and the known ids from alembic's full map."""

    def head(self) -> str:
        heads = self.script.get_heads()
        if len(heads) != 1:
            raise MultipleHeadsError(sorted(heads))
        return heads[0]

    def _knows(self, revision: str) -> bool:
        try:
            return self.script.get_revision(revision) is not None
        except CommandError:
            return False


async def _rounds(probes: Mapping[str, Probe], repeat: int) -> dict[str, float]:
    """Median of each probe, the probes interleaved; round 0 warms caches and is dropped."""
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for round_number in range(repeat + 1):
        for name, probe in probes.items():
            gc.collect()  # the full map leaves garbage that would be collected in the next probe
            elapsed = await probe()
            if round_number:
                samples[name].append(elapsed)
    return {name: median(values) for name, values in samples.items()}


def _head_probes(chain: Chain) -> dict[str, Probe]:
    def probe(revisions: type[Revisions], *, miss: bool = False) -> Probe:
        async def timed() -> float:
            if miss:
                Revisions(alembic_config(chain.extra)).discard_cache()
            started = time.perf_counter()
            head = revisions(alembic_config(chain.extra)).head()
            elapsed = time.perf_counter() - started
            assert head == chain.head
            return elapsed

        return timed

    # The miss writes the cache that the hit, next in each round, reads.
    return {
        "alembic map": probe(FullMapRevisions),
        "miss": probe(Revisions, miss=True),
        "now": probe(Revisions),
    }


def _startup_probes(url: URL, chain: Chain) -> dict[str, Probe]:
    options = MigrationOptions(extra_version_locations=chain.extra)

    async def before() -> float:
        with mock.patch.object(runner, "Revisions", FullMapRevisions):
            return (await timed_migrate(url, options))[0]

    async def now() -> float:
        return (await timed_migrate(url, options))[0]

    return {"floor": partial(floor_seconds, url), "before": before, "now": now}


async def _at_head_then_measure(url: URL, chain: Chain, repeat: int) -> dict[str, float]:
    await timed_migrate(url, MigrationOptions(extra_version_locations=chain.extra))
    return await _rounds(_startup_probes(url, chain), repeat)


def _measure_backend(
    chain: Chain, backend: str, cwd: Path, repeat: int, cli_repeat: int
) -> dict[str, float]:
    """(a) before and now, and (c), in-process; then (b) as a subprocess, on one database."""
    with throwaway_database(backend, cwd) as database:
        result = asyncio.run(_at_head_then_measure(database.url, chain, repeat))
        command = alembic_upgrade_command(chain, database)
        cli = [run_checked(command, env=clean_env(), cwd=cwd) for _ in range(cli_repeat)]
    return {**result, "cli": median(cli)}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=15, lengths=CHAIN_LENGTHS)
    prepare_process()
    cli_repeat = min(args.repeat, 5)
    print_header(
        "No-op start-up check (database at head)",
        f"Medians in ms: {args.repeat} samples in-process, {cli_repeat} for the CLI. "
        "Before/now differ only in how the head is found.",
    )
    startup_rows, head_rows, growth = [], [], {}
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-noop-") as scratch:
        cwd = Path(scratch)
        bare, imported = import_seconds("bot.migration", cwd=cwd, repeat=5)
        for length in args.lengths:
            with synthetic_chain(length) as chain:
                head = asyncio.run(_rounds(_head_probes(chain), args.repeat))
                head_rows.append(
                    [
                        length,
                        ms(head["alembic map"]),
                        ms(head["miss"]),
                        ms(head["now"]),
                        times(head["alembic map"], head["now"]),
                    ]
                )
                for backend in args.backends:
                    result = _measure_backend(chain, backend, cwd, args.repeat, cli_repeat)
                    growth[backend, length] = (result["before"], result["now"])
                    startup_rows.append(
                        [
                            backend,
                            length,
                            ms(result["floor"]),
                            ms(result["before"]),
                            ms(result["now"]),
                            ms(result["cli"]),
                            times(result["before"], result["floor"]),
                            times(result["now"], result["floor"]),
                            times(result["cli"], result["now"]),
                        ]
                    )
    print_table(
        [
            "backend",
            "revisions",
            "(c) floor",
            "(a) before",
            "(a) now",
            "(b) CLI",
            "(a)/(c) before",
            "(a)/(c) now",
            "(b)/(a) now",
        ],
        startup_rows,
    )
    lengths = sorted(args.lengths)
    for backend in args.backends:
        first, last = growth[backend, lengths[0]], growth[backend, lengths[-1]]
        print(
            f"- (a) from {lengths[0]} to {lengths[-1]} revisions, {backend}: "
            f"before {times(last[0], first[0])}, now {times(last[1], first[1])}"
        )
    print(
        f"- (b) includes the interpreter and imports: `python -c pass` {ms(bare)} ms, "
        f"`python -c 'import bot.migration'` {ms(imported)} ms (tear-down excluded)\n"
    )
    print("(d) the head alone, ms:\n")
    print_table(
        ["revisions", "alembic map (before)", "cache miss", "cache hit (now)", "before/now"],
        head_rows,
    )


if __name__ == "__main__":
    main()
