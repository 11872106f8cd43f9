"""The coaching domain: pure functions over plain values, no Slack and no HTTP."""
