"""Test doubles for external services the bot talks to."""

from .bot_api import Call, FakeBotAPI

__all__ = ["Call", "FakeBotAPI"]
