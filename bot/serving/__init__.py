"""How updates arrive and how an instance takes part among many: the shop's dispatcher,
polling while elected (the election), the webhook, /healthz and /readyz, the ports the bot's
servers listen on, the Redis and replica watches, and the heap frozen once serving."""
