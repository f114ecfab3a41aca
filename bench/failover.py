"""Failover: how long polling stops when the poller goes, with a standby on the same database.

From the signal to the poller (SIGKILL: it dies; SIGTERM: it stops and lets go of the poller
lock) to the first getUpdates the standby sends as the new poller (aiogram's first one carries
no offset), as the fake Bot API (tests/fakes/bot_api.py) receives it. The baseline, in the same
rounds: no standby, the lone poller killed and a new process started at once (what an
orchestrator's restart gives at best), from its start to its first getUpdates.

    .venv/bin/python -m bench.failover [--repeat 3] [--backend sqlite]
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from bench._common import (
    bot_database,
    median,
    parse_args,
    prepare_process,
    print_header,
    print_table,
    sec,
    times,
    with_fake_bot_api,
)
from tests.fakes.bot_api import Call, FakeBotAPI
from tests.support.processes import BotProcess

POLLING = "this instance is the poller now"
STANDING_BY = "standing by:"
KILLED = "SIGKILL the poller, standby takes over"
STOPPED = "SIGTERM the poller, standby takes over"
RESTART = "no standby: kill, start a new process"


def _first_poll(fake: FakeBotAPI, mark: int) -> Call:
    """The first getUpdates of a new poller after `mark` (one stepping down confirms what it
    took with an offset)."""
    return fake.wait_for(
        "getUpdates", lambda call: "offset" not in call.params, after=mark, timeout=120
    )


class Instances:
    def __init__(self, fake: FakeBotAPI, env: dict[str, str], cwd: Path) -> None:
        self._fake = fake
        self._env = env
        self._cwd = cwd
        self.running: list[BotProcess] = []

    def start(self) -> BotProcess:
        process = BotProcess([], self._env, self._cwd).start()
        self.running.append(process)
        return process

    def poller_with_standby(self) -> BotProcess:
        """The poller, once every other instance stands by."""
        while True:
            pollers = [p for p in self.running if POLLING in p.output]
            others = [p for p in self.running if p not in pollers]
            if len(pollers) == 1 and all(STANDING_BY in p.output for p in others):
                return pollers[0]
            for process in self.running:
                if process.poll() is not None:
                    raise RuntimeError(f"an instance exited:\n{process.output[-3000:]}")
            time.sleep(0.02)

    def failover(self, sig: signal.Signals) -> float:
        poller = self.poller_with_standby()
        mark = self._fake.mark()
        signalled = time.monotonic()  # the clock the fake stamps its calls with
        os.kill(poller.pid, sig)
        took_over = _first_poll(self._fake, mark)
        poller.wait(60)
        self.running.remove(poller)
        return took_over.at - signalled

    def restart(self) -> float:
        [poller] = [p for p in self.running if POLLING in p.output]
        poller.stop(signal.SIGKILL)
        self.running.remove(poller)
        mark = self._fake.mark()
        started = time.monotonic()
        self.start()
        return _first_poll(self._fake, mark).at - started

    def stop_all(self) -> None:
        for process in self.running:
            process.stop(signal.SIGKILL)
        self.running.clear()


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], repeat=3)
    prepare_process()
    print_header(
        "Failover (the poller goes: signal to the new poller's first getUpdates)",
        f"Medians of {args.repeat} in seconds, the three interleaved; two `python main.py` on "
        "one database and the fake Bot API.",
    )
    rows = []
    with with_fake_bot_api("shopbot-bench-failover-") as (cwd, fake):
        for backend in args.backends:
            samples: dict[str, list[float]] = {KILLED: [], STOPPED: [], RESTART: []}
            with bot_database(backend, cwd, fake.url) as env:
                instances = Instances(fake, env, cwd)
                try:
                    instances.start()
                    instances.start()
                    for _ in range(args.repeat):
                        samples[KILLED].append(instances.failover(signal.SIGKILL))
                        instances.start()
                        samples[STOPPED].append(instances.failover(signal.SIGTERM))
                        samples[RESTART].append(instances.restart())
                        instances.start()
                finally:
                    instances.stop_all()
            result = {what: median(values) for what, values in samples.items()}
            for what, seconds in result.items():
                rows.append([backend, what, sec(seconds), times(seconds, result[RESTART])])
    print_table(["backend", "what", "s", "vs restart"], rows)


if __name__ == "__main__":
    main()
