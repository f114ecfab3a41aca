"""The loops that run beside the updates, each started and stopped by the dispatcher's hooks:
the outbox's worker, the payment journal's replay, the stock reservation sweep, and the
gateways' check (Crypto Pay's missed webhooks, overdue orders)."""
