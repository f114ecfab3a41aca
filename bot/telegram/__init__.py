"""How the bot talks to the Bot API: what every call gets on its way (retries)."""
