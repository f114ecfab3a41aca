"""How the bot talks to the Bot API (what every call gets on its way: retries), and what it
reads from Telegram's objects as the shop's values."""
