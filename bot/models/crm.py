"""What coachbot keeps of the CRM: deals, their stage history, product lines, sync cursors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text, UniqueConstraint, and_, column, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.models.base import Base, utcnow

# The predicates of the team read model's partial indexes, written once: SQLite uses a partial
# index only where the query repeats its WHERE terms, so bot/coaching/team.py's queries carry
# these same terms (is_closed IS false, is_won IS true, deleted_at IS NULL).
_OPEN_LIVE = and_(column("is_closed").is_(False), column("deleted_at").is_(None))
_WON_LIVE = and_(column("is_won").is_(True), column("deleted_at").is_(None))


class next_change_seq(FunctionElement[int]):  # noqa: N801 - reads like the SQL function it renders as
    """The `deals.change_seq` of a row being written: larger than that of every write committed before.

    PostgreSQL: the writing transaction's id (64-bit, never reused). Writers commit out of id
    order there, so the gap scan remembers which ids were still running when it last looked.
    SQLite: one more than the largest value stored or seen by the last gap scan; SQLite has one
    writer at a time, so values grow in commit order.
    """

    type = BigInteger()
    inherit_cache = True


@compiles(next_change_seq, "postgresql")
def _next_change_seq_postgresql(element: next_change_seq, compiler: SQLCompiler, **kw: object) -> str:
    return "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)"


@compiles(next_change_seq)
def _next_change_seq_sqlite(element: next_change_seq, compiler: SQLCompiler, **kw: object) -> str:
    # The scan's own mark is a floor too: a deleted deal must not hand its number out again.
    return (
        "(SELECT max(coalesce((SELECT max(change_seq) FROM deals), 0),"
        " coalesce((SELECT max(change_mark) FROM gap_scan_state), 0)) + 1)"
    )


def _open_deals_only(dialect: str) -> str:
    # Spelled as SQLAlchemy renders `is_closed.is_(False)`, so the planners match it to the queries.
    return f"is_closed IS {'0' if dialect == 'sqlite' else 'false'} AND deleted_at IS NULL"


def open_deal_index(name: str, *columns: str) -> Index:
    """A partial index over open, live deals: closed ones outnumber them and are never asked for here."""
    return Index(
        name, *columns, sqlite_where=text(_open_deals_only("sqlite")), postgresql_where=text(_open_deals_only("postgresql"))
    )


class Deal(Base):
    """One CRM deal (opportunity), keyed by its CRM source and id."""

    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("crm_source", "crm_id"),
        # The scorecard reads one owner's open deals and those closed in a period.
        Index("ix_deals_owner_closed_close_date", "owner_id", "is_closed", "close_date"),
        # The gap scan asks which deals changed since it last looked, and which open deals cross a
        # date or a day limit between two scans (bot/coaching/rescan.py).
        Index("ix_deals_change_seq", "change_seq"),
        open_deal_index("ix_deals_open_close_date", "close_date"),
        open_deal_index("ix_deals_open_next_step_date", "next_step_date"),
        open_deal_index("ix_deals_open_stage_entered_at", "stage_entered_at"),
        open_deal_index("ix_deals_open_last_activity_at", "last_activity_at"),
        # The scan's count of open deals and of reps selling one product line, without reading deals.
        open_deal_index("ix_deals_open_owner_line", "owner_id", "product_line"),
        # The team view's open pipeline per owner, currency and stage, read from the index alone and
        # in group order; only open deals are in it, so its size follows the open pipeline, not the
        # years of closed history beside it (id for the probe of each deal's open gaps).
        Index(
            "ix_deals_open_by_owner",
            "owner_id",
            "currency",
            "stage",
            "close_date",
            "amount",
            "id",
            sqlite_where=_OPEN_LIVE,
            postgresql_where=_OPEN_LIVE,
        ),
        # The team view's closed-won sums per owner in a period, from the index alone.
        Index(
            "ix_deals_won_by_owner",
            "owner_id",
            "is_closed",
            "close_date",
            "currency",
            "amount",
            sqlite_where=_WON_LIVE,
            postgresql_where=_WON_LIVE,
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
    # Set on every insert and update made through SQLAlchemy (see next_change_seq).
    change_seq: Mapped[int] = mapped_column(BigInteger, default=next_change_seq(), onupdate=next_change_seq(), server_default="0")

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
