"""Scheduled jobs. Each module names its id and trigger and exposes a plain `run(...)`."""
