"""A burst of new users with a slow Bot API, five payments inside it: answered users per
second and the p99 of handling, against the same burst with no Bot API latency. Then a large
burst of new users through the bot's own polling with its bound on updates in flight
(UPDATES_IN_FLIGHT), against the same burst with no bound: answered/s, p99 and peak RSS.

The burst of tests/test_burst.py (`tests.support.burst.run_burst`): every update fed at once
through the real dispatcher (`bot.app.build_dispatcher`), the fake Telegram in-process
answering each call late. Baseline, measured in the same run and interleaved: the same burst,
the same database, zero latency. With no transaction held across a Bot API call, the slow
burst's handling time is the latency plus the database work, and nobody goes unanswered.

The large burst (`bench._new_users`) runs in a process of its own per sample, so that its
peak RSS is its own; a fresh database each time. Each round runs every backend and bound in
turn, and SQLite's rate against PostgreSQL's is the median of each round's own ratio.

    .venv/bin/python -m bench.burst [--repeat 3] [--backend sqlite] [--new-users 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from bench._common import (
    PYTHON,
    clean_env,
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
from bench._new_users import NewUsers
from bot.config import Settings
from bot.migration.revisions import PROJECT_ROOT
from tests.support.burst import BurstResult, run_burst
from tests.support.processes import run_command

# backend: (users, Bot API latency in seconds), as in issue 10
BURSTS = {"sqlite": (150, 0.3), "postgresql": (200, 1.5)}
PAYMENTS = 5
NEW_USERS = 1000
# The bot's default bound on updates in flight, and the baseline: none at all.
IN_FLIGHT = (Settings.model_fields["updates_in_flight"].default, 0)


class Answered(Protocol):
    """A burst's outcome: `BurstResult` and `NewUsers` alike."""

    @property
    def answered(self) -> int: ...

    @property
    def seconds(self) -> float: ...


def answered_per_second(results: Sequence[Answered]) -> float:
    """The median over the bursts of users answered per second."""
    return median([result.answered / max(result.seconds, 1e-9) for result in results])


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


def new_users(backend: str, scratch: Path, users: int, in_flight: int) -> NewUsers:
    with throwaway_database(backend, scratch) as database:
        command = [PYTHON, "-m", "bench._new_users", backend, database.url_string]
        command += [str(users), str(in_flight)]
        env = clean_env(PYTHONPATH=str(PROJECT_ROOT))
        completed = run_command(command, env, PROJECT_ROOT, timeout=900)
    if completed.returncode != 0:
        raise RuntimeError(f"bench._new_users failed:\n{completed.stderr[-3000:]}")
    return NewUsers(**json.loads(completed.stdout.strip().splitlines()[-1]))


def new_users_samples(
    backends: Sequence[str], scratch: Path, users: int, repeat: int
) -> dict[tuple[str, int], list[NewUsers]]:
    """Every backend and bound in each round, so a drift of the machine's speed within the run
    falls on all of them alike."""
    samples: dict[tuple[str, int], list[NewUsers]] = {
        (backend, in_flight): [] for backend in backends for in_flight in IN_FLIGHT
    }
    for _ in range(repeat):
        for backend, in_flight in samples:
            samples[backend, in_flight].append(new_users(backend, scratch, users, in_flight))
    return samples


def new_users_rows(samples: dict[tuple[str, int], list[NewUsers]]) -> list[list[str]]:
    rows = []
    for (backend, in_flight), results in samples.items():
        answered = answered_per_second(results)
        rows.append(
            [
                backend,
                str(results[0].users),
                str(in_flight or "no bound"),
                f"{min(result.answered for result in results)}/{results[0].users}",
                f"{answered:.0f}",
                times(answered, answered_per_second(samples[backend, 0])),
                ms(percentile([result.p99 for result in results], 0.5)),
                f"{median([result.peak_rss_mb for result in results]):.0f}",
                f"{median([result.peak_rss_mb - result.rss_before_mb for result in results]):.0f}",
                str(max(result.errors for result in results)),
            ]
        )
    return rows


def sqlite_against_postgresql(samples: dict[tuple[str, int], list[NewUsers]]) -> str | None:
    """The median over the rounds of each round's own SQLite/PostgreSQL ratio, bound on."""
    bound = IN_FLIGHT[0]
    if ("sqlite", bound) not in samples or ("postgresql", bound) not in samples:
        return None
    rounds = zip(samples["sqlite", bound], samples["postgresql", bound], strict=True)
    ratios = [
        answered_per_second([sqlite]) / answered_per_second([postgresql])
        for sqlite, postgresql in rounds
    ]
    listed = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
    return (
        f"SQLite against PostgreSQL with {bound} in flight, round by round: {listed}; "
        f"median {times(median(ratios), 1.0)}.\n"
    )


def add_new_users_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--new-users",
        type=int,
        default=NEW_USERS,
        help=f"users in the large burst (default {NEW_USERS})",
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=3, add_own=add_new_users_flag)
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
    print(
        f"{args.new_users} new users at once through the bot's polling, with its bound on "
        "updates in flight (UPDATES_IN_FLIGHT) and with none; each burst in a process of its "
        "own. p99: from the first update to a user's answer (median over bursts); peak RSS: "
        "the process's during the burst, and its growth over the RSS before.\n",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="shopbot-bench-new-users-") as scratch:
        samples = new_users_samples(args.backends, Path(scratch), args.new_users, args.repeat)
    print_table(
        [
            "database",
            "users",
            "in flight",
            "answered",
            "answered/s",
            "vs no bound",
            "p99 ms",
            "peak RSS MB",
            "RSS growth MB",
            "errors",
        ],
        new_users_rows(samples),
    )
    ratio = sqlite_against_postgresql(samples)
    if ratio is not None:
        print(ratio, flush=True)


if __name__ == "__main__":
    main()
