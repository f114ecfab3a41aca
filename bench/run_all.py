"""Run every benchmark in turn (each in its own process) and say how long each took.

.venv/bin/python -m bench.run_all [--backend sqlite] | tee bench/latest.md
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench._common import PROJECT_ROOT, print_table, sec

SCRIPTS = (
    "noop_check",
    "full_upgrade",
    "backup",
    "many_instances",
    "time_to_ready",
    "updates",
    "burst",
    "stock",
    "failover",
    "replica",
    "index_build",
    "plan",
    "broadcast",
    "search",
)


def main() -> None:
    passed_on = sys.argv[1:]  # e.g. --backend sqlite: every script takes it
    durations = []
    for script in SCRIPTS:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", f"bench.{script}", *passed_on], cwd=PROJECT_ROOT, check=True
        )
        durations.append([f"bench.{script}", sec(time.perf_counter() - started)])
    print("## How long each script took\n")
    print_table(["script", "s"], durations)


if __name__ == "__main__":
    main()
