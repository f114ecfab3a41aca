"""Time to ready: from process start to the first getUpdates against the fake Bot API, with
the schema already at head: `python main.py` (migrates on start) vs the same bot with
`--no-migrate` (only verifies), both interleaved in one run.

Import cost is measured in the same run (`python -c pass`, `python -c "import bot.app"`), since
it dominates: everything else is the difference between the two modes and the rest of start-up.

    .venv/bin/python -m bench.time_to_ready [--repeat 5] [--backend sqlite]
"""

from __future__ import annotations

import time
from pathlib import Path

from bench._common import (
    bot_database,
    import_seconds,
    median,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    sec,
    times,
    with_fake_bot_api,
)
from tests.fakes.bot_api import FakeBotAPI
from tests.support.processes import BotProcess

MODES = {"main.py (migrates)": [], "--no-migrate": ["--no-migrate"]}
IMPORTS = "python -c 'import bot.app' (no tear-down)"
BARE = "python -c pass"


def time_to_ready(fake: FakeBotAPI, args: list[str], env: dict[str, str], cwd: Path) -> float:
    mark = fake.mark()
    started = time.monotonic()  # the clock the fake stamps its calls with
    with BotProcess(args, env, cwd) as bot:
        try:
            first_poll = fake.wait_for("getUpdates", after=mark, timeout=120)
        except AssertionError as error:
            raise RuntimeError(f"{error}\nbot output:\n{bot.output[-3000:]}") from None
        bot.stop()
    return first_poll.at - started


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=5)
    prepare_process()
    print_header(
        "Time to ready (process start to the first getUpdates)",
        f"Medians of {args.repeat} in seconds, the modes and an import-only process interleaved; "
        "the fake Bot API from tests/fakes, schema at head.",
    )
    rows = []
    with with_fake_bot_api("shopbot-bench-ready-") as (cwd, fake):
        for backend in args.backends:
            samples: dict[str, list[float]] = {mode: [] for mode in (*MODES, IMPORTS, BARE)}
            with bot_database(backend, cwd, fake.url) as env:
                for _ in range(args.repeat):
                    bare, imported = import_seconds("bot.app", cwd=cwd, repeat=1)
                    samples[BARE].append(bare)
                    samples[IMPORTS].append(imported)
                    for mode, flags in MODES.items():
                        samples[mode].append(time_to_ready(fake, flags, env, cwd))
            result = {mode: median(values) for mode, values in samples.items()}
            for mode in (*MODES, IMPORTS, BARE):
                ready = result[mode]
                rows.append(
                    [
                        backend,
                        mode,
                        sec(ready),
                        times(ready, result["--no-migrate"]),
                        sec(ready - result[IMPORTS]) if mode in MODES else "",
                    ]
                )
    print_table(["backend", "process", "s", "vs --no-migrate", "beyond imports s"], rows)


if __name__ == "__main__":
    main()
