"""The real `python main.py` (and `alembic`) as subprocesses, with a clean environment."""

from __future__ import annotations

import configparser
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.databases import ThrowawayDatabase

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAIN = PROJECT_ROOT / "main.py"
ALEMBIC = Path(sys.executable).with_name("alembic")
TEST_TOKEN = "123456789:TEST-token-for-the-fake-bot-api_00"
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def clean_env(**settings: str) -> dict[str, str]:
    """Only what a process needs from outside, plus `settings`: never the developer's .env."""
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def bot_env(
    database: ThrowawayDatabase, *, api_url: str | None = None, **settings: str
) -> dict[str, str]:
    values = {"DATABASE_URL": database.url_string, "BOT_TOKEN": TEST_TOKEN, **settings}
    if api_url is not None:
        values["BOT_API_URL"] = api_url
    return clean_env(**values)


WEBHOOK_SECRET = "webhook_Secret-123"
WEBHOOK_PUBLIC_URL = "https://shop.example.test"


def webhook_settings(port: int) -> dict[str, str]:
    """The settings of a webhook instance listening on 127.0.0.1:`port` (Telegram would post
    to WEBHOOK_PUBLIC_URL, with WEBHOOK_SECRET in its header)."""
    return {
        "WEBHOOK_URL": WEBHOOK_PUBLIC_URL,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
    }


def run_command(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_main(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_command([sys.executable, str(MAIN), *args], env, cwd, timeout)


def run_alembic(
    args: Sequence[str],
    env: Mapping[str, str],
    timeout: float = 120,
    *,
    ini: Path = PROJECT_ROOT / "alembic.ini",
) -> subprocess.CompletedProcess[str]:
    return run_command([str(ALEMBIC), "-c", str(ini), *args], env, PROJECT_ROOT, timeout)


def get_json(port: int, path: str) -> tuple[int, dict[str, Any]]:
    """GET http://127.0.0.1:<port><path> (a health endpoint): the status and the JSON body;
    (0, {}) while nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


# Ports handed to the processes the tests start come from below the kernel's ephemeral range:
# a port the kernel picks for `bind(0)` is one it may give the next outgoing connection
# (another test's client of PostgreSQL or Redis) before the started process binds it.
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking), below the
    ephemeral range."""
    try:
        ephemeral_low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):  # not Linux: its default range
        ephemeral_low = 32_768
    for _ in range(200):
        port = random.randrange(_LOWEST_PORT, max(ephemeral_low, _LOWEST_PORT + 1_000))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # taken: another
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range")


def write_alembic_ini(path: Path, extra_versions: Path) -> Path:
    """The project's alembic.ini (its post-write hooks too) for the CLI run from anywhere,
    with `extra_versions` added (the CLI has no EXTRA_MIGRATION_DIRS: its version
    directories come from the ini)."""
    ini = configparser.ConfigParser(interpolation=None)  # keep alembic's %(...)s as written
    ini.read(PROJECT_ROOT / "alembic.ini")
    for section in ini.sections():  # but the project's root stays where it is
        for key, value in ini[section].items():
            ini[section][key] = value.replace("%(here)s", str(PROJECT_ROOT))
    locations = [PROJECT_ROOT / "migrations" / "versions", extra_versions]
    ini["alembic"].update(
        script_location=str(PROJECT_ROOT / "migrations"),
        version_locations=os.pathsep.join(map(str, locations)),
        prepend_sys_path=str(PROJECT_ROOT),
    )
    with path.open("w") as written:
        ini.write(written)
    return path


class BotProcess:
    """`python main.py ARGS` (or another `program`) in the background; its output goes to a
    file we can read live."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        *,
        program: Sequence[str] = (sys.executable, str(MAIN)),
    ) -> None:
        self.command = [*program, *args]
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = cwd / f"bot-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def poll(self) -> int | None:
        assert self.process is not None
        return self.process.poll()

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"bot did not exit within {timeout}s; output:\n{self.output[-3000:]}"
            ) from None

    def wait_for_output(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            if self.poll() is not None:
                raise AssertionError(
                    f"bot exited ({self.poll()}) before printing {needle!r}:\n{self.output[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout}s:\n{self.output[-3000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
