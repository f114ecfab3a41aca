"""Payment gateways outside Telegram, wired to the bot: orders opened from a button, the
gateways' callbacks on an aiohttp server, and the background check (expiry, Crypto Pay's
missed webhooks)."""
