"""People, who coaches whom, and quotas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base, utcnow

ROLES = ("rep", "manager", "coach", "admin")


class Person(Base):
    """Someone in the sales org: a rep, a manager, a coach or an admin (or several)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: emails are how CRM owners and Slack users meet people.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    is_rep: Mapped[bool] = mapped_column(default=False)
    is_manager: Mapped[bool] = mapped_column(default=False)
    is_coach: Mapped[bool] = mapped_column(default=False)
    is_admin: Mapped[bool] = mapped_column(default=False)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    # The owner id a CRM knows this person by, where it is not the email (HubSpot owner id, say).
    crm_owner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # The rep's own morning-nudge time, "HH:MM" in their time zone; None: the playbook's default.
    nudge_time: Mapped[str | None] = mapped_column(String(5))
    # Nothing is sent to them through this day of their own calendar (a vacation); None: not paused.
    paused_until: Mapped[dt.date | None] = mapped_column()
    # A manager's weekly digest; they can turn it off from their App Home.
    digest_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    manager: Mapped[Person | None] = relationship(remote_side=[id])

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(role for role in ROLES if getattr(self, f"is_{role}"))

    def __repr__(self) -> str:
        return f"Person(id={self.id!r}, email={self.email!r}, roles={self.roles!r})"


class CoachAssignment(Base):
    """A coach assigned to a rep."""

    __tablename__ = "coach_assignments"
    __table_args__ = (UniqueConstraint("coach_id", "rep_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Quota(Base):
    """A rep's quota for a span of dates [period_start, period_end)."""

    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("person_id", "period_start", "period_end"),
        # The unique constraint's index also serves "this person's quotas overlapping a period".
        CheckConstraint("period_end > period_start", name="period_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
