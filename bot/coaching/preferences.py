"""Each person's own controls: their nudge time, a pause until a date (a vacation), and for managers
the weekly digest on or off. Set from the App Home or a nudge's menu; every change is audited."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.access import audit
from bot.coaching.errors import InvalidInput
from bot.coaching.playbook import Playbook, clock
from bot.coaching.words import short_date
from bot.models import Person

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
LONGEST_PAUSE_DAYS = 366


@dataclass(frozen=True)
class Preferences:
    nudge_time: str  # "HH:MM" in their own time zone: theirs, else the playbook's
    own_nudge_time: bool  # False: the playbook's default
    paused_until: dt.date | None  # only while the pause lasts (today or later)
    digest_enabled: bool
    is_manager: bool


def preferences_of(person: Person, playbook: Playbook, today: dt.date) -> Preferences:
    paused = person.paused_until if person.paused_until is not None and person.paused_until >= today else None
    return Preferences(
        nudge_time=person.nudge_time or playbook.nudges.local_time, own_nudge_time=person.nudge_time is not None,
        paused_until=paused, digest_enabled=person.digest_enabled, is_manager=person.is_manager,
    )  # fmt: skip


class PreferenceErrors(InvalidInput):
    """Which fields cannot be used, and why (field name -> sentence), for a form to show beside each."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(" ".join(fields.values()))
        self.fields = fields


def change_preferences(
    session: Session, person: Person, *, nudge_time: str | None, paused_until: dt.date | None, digest_enabled: bool | None,
    playbook: Playbook, today: dt.date, now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    """Store what changed (audited as change_preferences); PreferenceErrors names each field that cannot be used.

    `nudge_time` None keeps the playbook's time; `paused_until` None ends a pause; `digest_enabled`
    None leaves the digest as it is (someone who is not a manager has none).
    """
    problems: dict[str, str] = {}
    if nudge_time is not None:
        quiet = playbook.nudges.quiet_hours
        if not _HHMM.match(nudge_time):
            problems["nudge_time"] = "Pick a time of day, like 08:30."
        elif quiet.contains(clock(nudge_time)):
            problems["nudge_time"] = (
                f"{nudge_time} is in the quiet hours ({quiet.start}–{quiet.end}), when nothing is sent: pick a later time."
            )
    if paused_until is not None and paused_until < today:
        problems["paused_until"] = f"{short_date(paused_until)} has passed where you are: pick today or later, or clear it."
    elif paused_until is not None and paused_until > today + dt.timedelta(days=LONGEST_PAUSE_DAYS):
        problems["paused_until"] = "Pause for a year at most."
    if problems:
        raise PreferenceErrors(problems)
    wanted: dict[str, Any] = {"nudge_time": nudge_time, "paused_until": paused_until}
    if digest_enabled is not None and person.is_manager:
        wanted["digest_enabled"] = digest_enabled
    changes = {
        name: [_shown(getattr(person, name)), _shown(value)] for name, value in wanted.items() if getattr(person, name) != value
    }
    for name, value in wanted.items():
        setattr(person, name, value)
    if changes:
        audit(session, person, "change_preferences", now, subject=person, detail=changes)
    return changes


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
