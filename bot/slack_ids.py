"""Every Slack identifier coachbot registers, defined once (the manifest test reads these)."""

MYPERF_COMMAND = "/myperf"

# Slash commands, in the order the manifest lists them.
COMMANDS = (MYPERF_COMMAND,)
EVENTS: tuple[str, ...] = ()
