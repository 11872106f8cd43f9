"""What the coaching domain decides to tell someone, as plain values.

Domain code never composes or queues a Slack message: it records its decision (an action
assigned, a reminder claimed on its row) and adds a `Notice` to the `Notices` it was handed. The
delivery layer (bot/delivery) turns each notice into blocks and a plain-text fallback and queues
it in the outbox, in the same transaction as the decision, under the notice's key, so the same
decision made twice (a restart, a second instance) still sends one message.

A notice's fields are the values its message shows; `kind` names the message family (the outbox
row's kind) and `key` the decision, unique for all time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, ClassVar

from bot.models import Person

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Notice:
    key: str
    kind: ClassVar[str] = ""

    def content(self) -> dict[str, Any]:
        """The values the message shows (every field but the key)."""
        return {item.name: getattr(self, item.name) for item in fields(self) if item.name != "key"}


@dataclass(frozen=True, kw_only=True)
class ActionAssigned(Notice):
    kind: ClassVar[str] = "action_assigned"
    action_id: int
    text: str
    assigned_by: str
    due_date: dt.date | None
    deal_name: str | None = None
    deal_url: str | None = None
    goal: str | None = None


@dataclass(frozen=True, kw_only=True)
class ActionDone(Notice):
    kind: ClassVar[str] = "action_done"
    text: str
    done_by: str
    rep_name: str


@dataclass(frozen=True, kw_only=True)
class ActionEscalated(Notice):
    kind: ClassVar[str] = "action_escalation"
    rep_name: str
    text: str
    due_date: dt.date
    days_overdue: int


@dataclass(frozen=True, kw_only=True)
class ActionReminder(Notice):
    kind: ClassVar[str] = "action_reminder"
    action_id: int
    text: str
    due_date: dt.date
    days_left: int
    assigned_by: str | None


@dataclass(frozen=True, kw_only=True)
class GoalSet(Notice):
    kind: ClassVar[str] = "goal_set"
    set_by: str
    competency: str
    description: str
    due_date: dt.date | None
    measure: str | None = None
    target: float | None = None
    measure_arg: str | None = None


@dataclass(frozen=True, kw_only=True)
class GoalClosed(Notice):
    kind: ClassVar[str] = "goal_closed"
    rep_name: str
    competency: str
    status: str  # "achieved" or "missed"
    progress: float
    on: dt.date
    for_rep: bool


@dataclass(frozen=True, kw_only=True)
class GoalReminder(Notice):
    kind: ClassVar[str] = "goal_reminder"
    competency: str
    description: str
    due_date: dt.date
    days_left: int
    progress: float
    measure: str | None
    target: float | None
    measure_arg: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlanProposal(Notice):
    kind: ClassVar[str] = "plan_proposal"
    plan_id: int
    rep_name: str
    period_label: str
    projected: float
    period_left: float
    quota: Decimal
    won: Decimal
    gap: Decimal
    pipeline_to_add: Decimal
    conversion: float
    currency: str


@dataclass(frozen=True, kw_only=True)
class PlanOpened(Notice):
    kind: ClassVar[str] = "plan_opened"
    manager_name: str
    period_end: dt.date
    gap: Decimal
    pipeline_to_add: Decimal
    currency: str
    commitments: Sequence[str]
    checkin_every_days: int
    first_checkin: dt.date | None


@dataclass(frozen=True, kw_only=True)
class PlanCheckinAsked(Notice):
    kind: ClassVar[str] = "plan_checkin"
    checkin_id: int
    manager_name: str
    period_end: dt.date
    days_left: int
    gap: Decimal
    pipeline_to_add: Decimal
    currency: str
    commitments: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class CheckinAnswered(Notice):
    kind: ClassVar[str] = "checkin_answer"
    rep_name: str
    answer: str
    note: str | None
    asked_on: dt.date


@dataclass(frozen=True, kw_only=True)
class PlanClosed(Notice):
    kind: ClassVar[str] = "plan_closed"
    rep_name: str
    period_label: str
    status: str
    outcome: str
    for_manager: bool


@dataclass(frozen=True)
class Addressed:
    """A notice, the person it is for, and their Slack user id."""

    person: Person
    recipient: str
    notice: Notice


@dataclass
class Notices:
    """The notices one unit of work decided on, in order; the delivery layer queues them before commit."""

    addressed: list[Addressed] = field(default_factory=list)

    def tell(self, person: Person | None, notice: Notice) -> bool:
        """Address `notice` to `person`; False (and logged) when they cannot be sent a Slack message."""
        if not reachable(person, notice.kind, notice.key):
            return False
        assert person is not None and person.slack_user_id is not None  # reachable() checked both
        self.addressed.append(Addressed(person, person.slack_user_id, notice))
        return True

    def __iter__(self) -> Iterator[Addressed]:
        return iter(self.addressed)

    def __len__(self) -> int:
        return len(self.addressed)


def reachable(person: Person | None, kind: str, key: str) -> bool:
    """True when `person` can be sent a Slack message; otherwise logs who was not told what."""
    if person is None:
        log.warning("%s not queued (%s): nobody to tell", kind, key)
        return False
    if not person.slack_user_id:
        log.warning("%s not queued (%s): person %s has no Slack account linked", kind, key, person.id)
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class GapStillOpen(Notice):
    """To a rep who said "I fixed it": the sync since then still shows the gap (told once a claim)."""

    kind: ClassVar[str] = "gap_still_open"
    deal_name: str
    detail: str
    todo: str
    deal_url: str | None
