"""The delivery layer: what the coaching domain decided to say, composed and queued.

The domain returns plain values (notices, a morning nudge, a digest); this layer is the one
place that turns them into Block Kit blocks with a plain-text fallback (bot/blocks), draws charts
(bot/charts.py) and queues the result in the outbox (bot/messaging/outbox.py), inside the caller's
transaction so a decision and its message are committed together or not at all.
"""
