"""The provider interface: what every CRM connector hands to the sync."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from bot.org.records import OrgPerson


@dataclass(frozen=True)
class CrmDeal:
    """A deal as a provider read it, already mapped onto coachbot's fields."""

    crm_id: str
    name: str
    # How the CRM names the owner: an owner id, an email or a name.
    owner_key: str | None
    stage: str
    created_at: dt.datetime
    amount: Decimal | None = None
    currency: str | None = None
    owner_email: str | None = None
    # None: decided by the playbook's stage rules.
    is_closed: bool | None = None
    is_won: bool | None = None
    crm_probability: float | None = None
    stage_entered_at: dt.datetime | None = None
    close_date: dt.date | None = None
    closed_at: dt.datetime | None = None
    next_step: str | None = None
    next_step_date: dt.date | None = None
    last_activity_at: dt.datetime | None = None
    product_name: str | None = None
    product_line: str | None = None
    account_name: str | None = None
    crm_url: str | None = None
    crm_modified_at: dt.datetime | None = None
    # (stage, entered_at) oldest first, where the CRM keeps it.
    stage_history: tuple[tuple[str, dt.datetime], ...] = ()


@dataclass
class DealPage:
    """One unit of work for the sync: stored and committed together with `cursor`."""

    deals: list[CrmDeal]
    # Rows the provider could not use, by reason: {"no created date (engage_date)": ["row 12", ...]}
    skipped: dict[str, list[str]] = field(default_factory=dict)
    # Deals kept with a value the provider had to estimate, by how: {"no created date (engage_date): ...": ["row 12", ...]}
    estimated: dict[str, list[str]] = field(default_factory=dict)
    unknown_products: Counter[str] = field(default_factory=Counter)
    # CRM ids the CRM reports deleted or archived: they leave the open pipeline (kept, marked deleted_at).
    deleted_ids: list[str] = field(default_factory=list)
    cursor: str | None = None


class SkipRecord(Exception):
    """One CRM record cannot be used; the message is the reason the sync summary lists it under."""


class CrmError(Exception):
    """A CRM problem the user must fix; `setting` names the setting to look at, if any."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class CrmProvider(Protocol):
    """A source of deals (and, for some, of the org itself)."""

    # Read-only, so a connector may name its source once for the class (a ClassVar).
    @property
    def source(self) -> str:
        """Stored as deals.crm_source; CRM ids are unique within it."""

    def fetch_org(self) -> list[OrgPerson] | None:
        """The people, roles and quotas, for providers that know them (the demo); else None."""

    def product_lines(self) -> list[str]:
        """The product-line catalogue the CRM knows of (may be empty)."""

    def expected_total(self) -> int | None:
        """How many deals the next fetch will yield, if cheap to know (for a progress bar)."""

    def fetch_deals(self, cursor: str | None) -> Iterator[DealPage]:
        """Deals changed since `cursor` (all of them when None), page by page."""


@runtime_checkable
class LinksByCrmId(Protocol):
    """A provider whose every deal links to one prefix + its CRM id, the prefix read from settings.

    The sync relinks the stored deals when the prefix changes (a setting added or corrected),
    since an incremental sync re-reads only the deals changed in the CRM.
    """

    def record_url_prefix(self) -> str | None:
        """The link before the CRM id; None when the settings give no link."""


class KnownStage(Protocol):
    """What the sync needs to know of a stage it can name: whether it closes the deal, and as won."""

    @property
    def closed(self) -> bool: ...

    @property
    def won(self) -> bool: ...


class StageCatalogue(Protocol):
    """The stages a sync can name (the playbook is one): the connectors know nothing of coaching."""

    def stage(self, name: str) -> KnownStage | None: ...
