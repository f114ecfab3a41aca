"""aiohttp routes for callers other than Telegram: the payment gateways' callbacks. They are
served on the webhook's own server, or on one of their own while polling."""
