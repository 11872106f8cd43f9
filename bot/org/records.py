"""Plain records of the org as a file or a provider states it, before it is stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class QuotaRecord:
    start: dt.date
    end: dt.date  # exclusive
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class OrgPerson:
    email: str
    name: str
    roles: frozenset[str]
    manager_email: str | None = None
    coach_emails: tuple[str, ...] = ()
    timezone: str | None = None
    quotas: tuple[QuotaRecord, ...] = ()
    crm_owner_id: str | None = None
    line: int | None = None  # where it came from in an org file, for messages
