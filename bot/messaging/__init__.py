"""Delivery: the outbox of Slack messages, its sender, and the ledger that claims job runs."""
