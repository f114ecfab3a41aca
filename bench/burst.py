"""A burst of new users with a slow Bot API, five payments inside it: answered users per
second and the p99 of handling, against the same burst with no Bot API latency.

The burst of tests/test_burst.py (`tests.support.burst.run_burst`): every update fed at once
through the real dispatcher (`bot.app.build_dispatcher`), the fake Telegram in-process
answering each call late. Baseline, measured in the same run and interleaved: the same burst,
the same database, zero latency. With no transaction held across a Bot API call, the slow
burst's handling time is the latency plus the database work, and nobody goes unanswered.

    .venv/bin/python -m bench.burst [--repeat 3] [--backend sqlite]
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench._common import (
    median,
    ms,
    parse_args,
    percentile,
    prepare_process,
    print_header,
    print_table,
    throwaway_database,
    times,
)
from tests.support.burst import BurstResult, run_burst

# backend: (users, Bot API latency in seconds), as in issue 10
BURSTS = {"sqlite": (150, 0.3), "postgresql": (200, 1.5)}
PAYMENTS = 5


def answered_per_second(results: Sequence[BurstResult]) -> float:
    return median([result.answered / result.seconds for result in results])


def row(backend: str, latency: float, results: list[BurstResult], baseline: float) -> list[str]:
    handled_in = [seconds for result in results for seconds in result.handled_in]
    rate = answered_per_second(results)
    return [
        backend,
        f"{results[0].users} users, {latency:g} s",
        f"{min(r.answered for r in results)}/{results[0].users}",
        f"{min(r.recorded for r in results)}/{PAYMENTS}",
        f"{rate:.0f}",
        times(rate, baseline),
        ms(percentile(handled_in, 0.99)),
    ]


def measure(backend: str, scratch: Path, repeat: int) -> list[list[str]]:
    users, latency = BURSTS[backend]
    samples: dict[float, list[BurstResult]] = {0.0: [], latency: []}
    for _ in range(repeat):
        for delay in samples:  # interleaved: the baseline sees the same machine load
            with throwaway_database(backend, scratch) as database:
                burst = run_burst(database, users=users, latency=delay, payments=PAYMENTS)
                samples[delay].append(asyncio.run(burst))
    baseline = answered_per_second(samples[0.0])
    return [row(backend, delay, results, baseline) for delay, results in samples.items()]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=3)
    prepare_process()
    print_header(
        "A burst of new users with a slow Bot API",
        f"All updates fed at once, {PAYMENTS} payments among them; medians over "
        f"{args.repeat} bursts; p99 over every update of every burst.",
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-burst-") as scratch:
        for backend in args.backends:
            rows += measure(backend, Path(scratch), args.repeat)
    print_table(
        ["database", "burst", "answered", "payments", "answered/s", "vs 0 latency", "p99 ms"],
        rows,
    )


if __name__ == "__main__":
    main()
