"""The one purchase path wired to Telegram and the gateways outside it: what becomes of a
payment the shop has taken (the buyer and the admins told, a sold-out one refunded), and the
gateway orders that end in one. The rules themselves (recording once, the journal, the
intake) are the shop's: bot/shop/."""
