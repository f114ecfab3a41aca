"""A redis-server of our own on a free port (never the machine's shared one), which a test
may stop and start again on the same port: Redis lost while the bot serves, and back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.processes import free_port
from tests.support.waiting import eventually


class ThrowawayRedis:
    password = "redis-Secret-77"

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def where(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        eventually(self._answers, bool)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def _answers(self) -> bool:
        ping = subprocess.run(
            ["redis-cli", "-p", str(self.port), "-a", self.password, "--no-auth-warning", "ping"],
            capture_output=True,
            text=True,
        )
        return ping.stdout.strip() == "PONG"
