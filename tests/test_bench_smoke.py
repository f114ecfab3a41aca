"""Each benchmark script runs end to end in its smallest form (one sample, SQLite, the
shortest chain) and prints its table: a benchmark that no longer runs is caught here, not on
the day someone needs its numbers. Nothing about the times is asserted."""

from __future__ import annotations

import sys

import pytest

from tests.support.processes import PROJECT_ROOT, clean_env, run_command

pytestmark = pytest.mark.slow

SMALLEST = ["--repeat", "1", "--backend", "sqlite"]


@pytest.mark.parametrize(
    "script",
    [
        ["noop_check", "--lengths", "10"],
        ["full_upgrade", "--lengths", "10"],
        ["backup", "--purchases", "1000"],
        ["many_instances", "--lengths", "0", "--instances", "1", "2"],
        ["time_to_ready"],
        ["updates", "--updates", "8"],
        ["burst", "--new-users", "50"],
        ["stock", "--buyers", "10", "--units", "3", "--load", "500"],
        ["failover"],
        ["replica", "--updates", "8", "--backend", "postgresql"],  # a primary and its replica
        ["index_build", "--rows", "2000", "--backend", "postgresql"],  # CONCURRENTLY: PostgreSQL
        ["plan", "--purchases", "1000"],  # PostgreSQL only
        ["broadcast", "--users", "200", "--messages", "60", "--purchases", "1"],
        ["search", "--products", "200", "--samples", "5"],
    ],
    ids=lambda script: script[0],
)
def test_the_benchmark_runs_and_prints_its_table(script: list[str]) -> None:
    module, *own_flags = script
    command = [sys.executable, "-m", f"bench.{module}", *SMALLEST, *own_flags]
    env = clean_env(PYTHONPATH=str(PROJECT_ROOT))

    completed = run_command(command, env, PROJECT_ROOT, timeout=280)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "\n|-" in completed.stdout, completed.stdout[-3000:]  # a table's rule line
