"""The errors that stop the process: one class per exit-code row of the README, the code on
the class. Every message is one line that says what happened and what to do."""

from __future__ import annotations

import signal
from typing import ClassVar


class StartupError(Exception):
    """The bot cannot start (or go on)."""

    exit_code: ClassVar[int] = 1


class ConfigError(StartupError):
    """Exit 2: a setting is missing or malformed, or something it names refused us for a
    reason retrying cannot fix (credentials, a missing database, a token the Bot API refuses)."""

    exit_code = 2


class UnreachableError(StartupError):
    """Exit 3: the database or the Bot API did not answer."""

    exit_code = 3


class SchemaError(StartupError):
    """Exit 4: the schema could not be brought to (or found at) the code's head."""

    exit_code = 4


class InterruptedWaitError(StartupError):
    """Exit 128 + the signal: SIGTERM or SIGINT while start-up was only waiting (for the
    database, the migration lock or the schema), so nothing was changed."""

    signal_number: ClassVar[signal.Signals]

    def __init__(self, waiting_for: str) -> None:
        super().__init__(
            f"stopped by {self.signal_number.name} while waiting for {waiting_for}; "
            "nothing was changed"
        )

    @staticmethod
    def for_signal(received: signal.Signals, waiting_for: str) -> InterruptedWaitError:
        cls = StoppedBySigterm if received is signal.SIGTERM else StoppedBySigint
        return cls(waiting_for)


class StoppedBySigterm(InterruptedWaitError):
    signal_number = signal.SIGTERM
    exit_code = 128 + signal.SIGTERM.value


class StoppedBySigint(InterruptedWaitError):
    signal_number = signal.SIGINT
    exit_code = 128 + signal.SIGINT.value
