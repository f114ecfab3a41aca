"""Test doubles for external services the bot talks to."""

from .bot_api import FakeBotAPI
from .session import RecordingSession
from .telegram import Call, FakeTelegram

__all__ = ["Call", "FakeBotAPI", "FakeTelegram", "RecordingSession"]
