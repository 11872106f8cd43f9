"""When a person may be sent a direct message: their working days, outside quiet hours, not paused.

One window per person, read on their own calendar and wall clock (their Slack time zone, else the
team's): the playbook's `nudges.working_days` and `nudges.quiet_hours`, and the person's own pause
(`paused_until`, a vacation: nothing through that day). A message decided outside the window (a
coach assigning an action at 23:00, an escalation on a Saturday) waits for the window to open;
the scheduled morning nudge and weekly digest are skipped instead, as their next run says it anew.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.coaching.playbook import Playbook, clock
from bot.models import Person

# Nobody pauses longer than this; a window further away than it is a misconfiguration.
_LONGEST_SEARCH_DAYS = 400


def is_paused(person: Person, today: dt.date) -> bool:
    return person.paused_until is not None and today <= person.paused_until


def in_window(person: Person, playbook: Playbook, now: dt.datetime, default_timezone: str) -> bool:
    """True when `person` may be messaged at `now`."""
    local = now.astimezone(ZoneInfo(person.timezone or default_timezone))
    nudges = playbook.nudges
    return (
        not is_paused(person, local.date())
        and nudges.is_working_day(local.date())
        and not nudges.quiet_hours.contains(local.time())
    )


def window_opens(person: Person, playbook: Playbook, now: dt.datetime, default_timezone: str) -> dt.datetime:
    """`now` if `person` may be messaged now, else the first moment after it that they may (UTC)."""
    if in_window(person, playbook, now, default_timezone):
        return now
    zone = ZoneInfo(person.timezone or default_timezone)
    local = now.astimezone(zone)
    opening = clock(playbook.nudges.quiet_hours.end)
    day = local.date()
    for _ in range(_LONGEST_SEARCH_DAYS):
        candidate = dt.datetime.combine(day, opening, zone).astimezone(dt.UTC)
        if candidate > now and in_window(person, playbook, candidate, default_timezone):
            return candidate
        day += dt.timedelta(days=1)
    raise ValueError(f"no working day outside quiet hours within {_LONGEST_SEARCH_DAYS} days: check the playbook's nudges")
