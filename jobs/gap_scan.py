"""The gap scan job: bring the process gaps of every open deal in line with the playbook."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.gaps import ScanSummary, scan_gaps
from bot.coaching.playbook import Playbook, load_playbook
from bot.settings import Settings

JOB_ID = "gap_scan"
# Hourly: gaps are judged on each rep's own calendar day, so a rep's "next step was due
# yesterday" turns up within an hour of their midnight, well before their morning nudge, and
# deals fixed in the CRM leave the next nudge once a sync (every 10 minutes) and a scan have run.
EVERY_MINUTES = 60


def run(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, playbook: Playbook | None = None) -> ScanSummary:
    """One scan of every open deal as of `now`."""
    return scan_gaps(
        session_factory, playbook or load_playbook(settings.playbook_path), now, default_timezone=settings.timezone
    )
