"""When a person may be sent a direct message: their working days, outside quiet hours, not paused.

One window per person, read on their own calendar and wall clock (their Slack time zone, else the
team's): the playbook's `nudges.working_days` and `nudges.quiet_hours`, and the person's own pause
(`paused_until`, a vacation: nothing through that day). A message decided outside the window (a
coach assigning an action at 23:00, an escalation on a Saturday) waits for the window to open;
the scheduled morning nudge and weekly digest are skipped instead, as their next run says it anew.

On top of the window, `nudges.daily_budget`: the most messages the bot starts with one person on
their local day. It counts the kinds in `COUNTED_KINDS` (the morning nudge, action and goal
reminders, plan check-ins, overdue escalations, plan proposals); replies to what someone just did
(an action assigned or done, a goal set or closed, a plan opened or closed, a check-in answered)
and the weekly digest are not counted, nor held by it. A `FOLDED_KINDS` reminder is never sent on
its own while the day's nudge is still to come or when the budget is spent: the next morning
nudge carries it instead. `URGENT_KINDS` go out even over the budget (still only in the window),
and so does the morning nudge, the message everything else folds into. bot/delivery/budget.py
spends the units.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.coaching.playbook import Playbook, clock
from bot.models import Person

# The job-run ledger's name for a person's morning nudge: `nudge:<person id>` (jobs/morning_nudge.py).
NUDGE_LEDGER = "nudge"
# Reminders the morning nudge can carry, and the nudge item kind that carries each.
FOLDED_KINDS = {"action_reminder": "action", "goal_reminder": "goal"}
# Too important to wait for tomorrow: a manager asked to open a plan, an assigner told an action
# is overdue, and a plan check-in (its rep agreed its day with their manager, and it is answered
# with its own buttons, which a nudge does not carry).
URGENT_KINDS = frozenset({"plan_proposal", "action_escalation", "plan_checkin"})
COUNTED_KINDS = frozenset({"nudge", *FOLDED_KINDS, *URGENT_KINDS})

# Nobody pauses longer than this; a window further away than it is a misconfiguration.
_LONGEST_SEARCH_DAYS = 400


def nudge_time(person: Person, playbook: Playbook) -> dt.time:
    """The wall-clock time of `person`'s morning nudge: their own, else the playbook's."""
    return clock(person.nudge_time or playbook.nudges.local_time)


def local_day(person: Person, at: dt.datetime, default_timezone: str) -> dt.date:
    """The date where `person` is at `at`."""
    return at.astimezone(ZoneInfo(person.timezone or default_timezone)).date()


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
