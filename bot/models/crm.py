"""What coachbot keeps of the CRM: deals, their stage history, product lines, sync cursors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint, and_, column
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, utcnow

# The predicates of the team read model's partial indexes, written once: SQLite uses a partial
# index only where the query repeats its WHERE terms, so bot/coaching/team.py's queries carry
# these same terms (is_closed IS false, is_won IS true, deleted_at IS NULL).
_OPEN_LIVE = and_(column("is_closed").is_(False), column("deleted_at").is_(None))
_WON_LIVE = and_(column("is_won").is_(True), column("deleted_at").is_(None))


class Deal(Base):
    """One CRM deal (opportunity), keyed by its CRM source and id."""

    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("crm_source", "crm_id"),
        # The scorecard reads one owner's open deals and those closed in a period.
        Index("ix_deals_owner_closed_close_date", "owner_id", "is_closed", "close_date"),
        # The team view's open pipeline per owner, currency and stage, read from the index alone and
        # in group order; only open deals are in it, so its size follows the open pipeline, not the
        # years of closed history beside it (id for the probe of each deal's open gaps).
        Index(
            "ix_deals_open_by_owner", "owner_id", "currency", "stage", "close_date", "amount", "id",
            sqlite_where=_OPEN_LIVE, postgresql_where=_OPEN_LIVE,
        ),
        # The team view's closed-won sums per owner in a period, from the index alone.
        Index(
            "ix_deals_won_by_owner", "owner_id", "is_closed", "close_date", "currency", "amount",
            sqlite_where=_WON_LIVE, postgresql_where=_WON_LIVE,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_source: Mapped[str] = mapped_column(String(32))
    crm_id: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # The owner as the CRM names it (an id, an email or a name), kept so that a person
    # imported later can be matched to deals already synced.
    crm_owner_key: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(500))
    account_name: Mapped[str | None] = mapped_column(String(300))
    amount: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3))
    stage: Mapped[str] = mapped_column(String(100))
    # The CRM's own win probability for the stage (0..1), used when the playbook does not know it.
    crm_probability: Mapped[float | None]
    is_closed: Mapped[bool] = mapped_column(default=False)
    is_won: Mapped[bool] = mapped_column(default=False)
    stage_entered_at: Mapped[dt.datetime | None]
    # Expected close date while open, actual close date once closed.
    close_date: Mapped[dt.date | None] = mapped_column(Date)
    next_step: Mapped[str | None] = mapped_column(Text)
    next_step_date: Mapped[dt.date | None] = mapped_column(Date)
    last_activity_at: Mapped[dt.datetime | None]
    product_name: Mapped[str | None] = mapped_column(String(200))
    product_line: Mapped[str | None] = mapped_column(String(100))
    crm_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    crm_modified_at: Mapped[dt.datetime | None]
    # Set when the CRM reports the deal deleted or archived; it then leaves the open pipeline.
    deleted_at: Mapped[dt.datetime | None]
    synced_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Deal(id={self.id!r}, crm_id={self.crm_id!r}, stage={self.stage!r})"


class DealStageHistory(Base):
    """A deal entered a stage at a time."""

    __tablename__ = "deal_stage_history"
    __table_args__ = (UniqueConstraint("deal_id", "entered_at", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[dt.datetime]


class ProductLine(Base):
    """The product-line catalogue that breadth is measured against."""

    __tablename__ = "product_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class CrmSyncState(Base):
    """Per CRM connection: the incremental cursor and the last sync's summary."""

    __tablename__ = "crm_sync_state"

    connection: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(200))
    last_started_at: Mapped[dt.datetime | None]
    last_finished_at: Mapped[dt.datetime | None]
    last_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
