"""The data model: one declarative Base, tables grouped by domain."""

from bot.models.base import Base
from bot.models.coaching import Action, GapScanState, Goal, GoalProgress, OneOnOne, PlanCheckin, ProcessGap, RecoveryPlan
from bot.models.crm import CrmSyncState, Deal, DealStageHistory, ProductLine
from bot.models.messaging import AuditEntry, JobRun, OutboxMessage
from bot.models.org import CoachAssignment, Person, Quota

__all__ = [
    "Action",
    "AuditEntry",
    "Base",
    "CoachAssignment",
    "CrmSyncState",
    "Deal",
    "DealStageHistory",
    "GapScanState",
    "Goal",
    "GoalProgress",
    "JobRun",
    "OneOnOne",
    "OutboxMessage",
    "Person",
    "PlanCheckin",
    "ProcessGap",
    "ProductLine",
    "Quota",
    "RecoveryPlan",
]
