"""`coachbot demo` shows "Update…" as the read-only demo CRM can honestly show it: the refusal and
what the form would carry, and nothing written."""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from bot.demo import run_demo
from bot.settings import Settings


def test_the_demo_shows_the_update_modal_refusing_plainly_with_what_it_would_carry() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    run_demo(Settings(), console, None, now=dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC))
    output: str = console.file.getvalue()  # type: ignore[attr-defined]
    modal = output[output.index("Update… on ") :]
    lines = [line.strip("│ ").rstrip() for line in modal.splitlines()]
    assert lines[0].startswith("Update… on Monarch Solutions – Services → Rowan Davis, a modal")
    assert lines[1:10] == [
        "Monarch Solutions – Services (Rowan Davis's)",
        "Open gaps: next step was due Nov 16; close date Nov 20 has passed; 45 days in Demo (limit 14); no activity for 15 days (limit 14)",
        "🔒 The demo CRM is read-only: coachbot cannot change deals there. Its deals are generated; with HubSpot, Salesforce or "
        "Pipedrive connected, Update… saves to the CRM.",
        "What this form would let you change",
        "• Next step: Security review call",
        "• Next step date: 2026-11-16",
        "• Close date: 2026-11-20",
        "• Stage: Demo",
        "• Amount: $4,500",
    ]
    assert (
        "With HubSpot, Salesforce or Pipedrive connected, the form's Save to CRM writes the fields to the CRM, reads the deal "
        "back and answers what changed and which gaps closed." in output
    )
