"""Updating a deal from Slack: who may, which fields the Update modal offers, what a submission asks.

- Only the deal's owner, anyone up the owner's manager chain and coachbot admins may write to the
  CRM from coachbot (a coach, as such, may not: coaching is not editing someone's pipeline).
- The modal offers the fields that close a deal's gaps: the next step and its date, the close
  date, the stage, the amount, and the fields the playbook requires at the deal's stage, as far as
  the CRM connection can write them.
- A submission is checked here before anything reaches the CRM (a date in the past, an amount
  that is not money, a next-step date with no next step); only fields that differ are sent.
Every write, refused or not, is audited with the Slack user who asked (`audit_write`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access import audit, manager_chain
from bot.coaching.errors import NotAllowed, NotFound
from bot.coaching.playbook import Playbook
from bot.coaching.words import clip, money
from bot.models import Deal, Person, ProcessGap

GAP_FIELDS = ("next_step", "next_step_date", "close_date", "stage", "amount")
LABELS = {
    "next_step": "Next step", "next_step_date": "Next step date", "close_date": "Close date", "stage": "Stage",
    "amount": "Amount", "product_line": "Product line", "product_name": "Product",
}  # fmt: skip
GENERAL = "_general"  # an error that belongs to no one field (bot.crm.writes.GENERAL, which this layer cannot import)
MAX_NEXT_STEP = 255  # Salesforce's NextStep holds 255 characters; the other CRMs more
MAX_AMOUNT = Decimal("999999999999.99")


@dataclass(frozen=True)
class DealForm:
    """What the Update modal shows for one deal: its fields, their current values, the stages to pick from."""

    deal_id: int
    deal_name: str
    owner_name: str | None
    currency: str
    fields: tuple[str, ...]
    current: Mapping[str, Any]
    stages: tuple[str, ...]
    open_gaps: tuple[str, ...]
    # Why nothing can be written (a read-only CRM connection); None when the fields are editable.
    read_only: str | None = None


@dataclass(frozen=True)
class WriteOutcome:
    """What a saved update did: each changed field (label, before, after), the gaps closed and left."""

    deal_name: str
    changed: tuple[tuple[str, str, str], ...]
    closed_gaps: tuple[str, ...]
    still_open: tuple[str, ...]
    crm_url: str | None = None
    # Set when the CRM saved the change but the gaps could not be judged again yet.
    note: str | None = None


@dataclass
class FormErrors(Exception):
    """A submission that cannot be sent: field -> why (GENERAL for the form as a whole)."""

    fields: dict[str, str] = field(default_factory=dict)


def may_write(session: Session, person: Person, owner: Person | None) -> bool:
    """The deal's owner, their manager chain and admins."""
    if person.is_admin:
        return True
    if owner is None:
        return False
    return person.id == owner.id or person.id in manager_chain(session, owner)


def deal_for_writer(session: Session, person: Person, deal_id: int) -> tuple[Deal, Person | None]:
    """The live deal and its owner; NotFound or NotAllowed (in the user's words) otherwise."""
    deal = session.get(Deal, deal_id)
    if deal is None or deal.deleted_at is not None:
        raise NotFound("That deal is no longer in coachbot (deleted in the CRM, or not synced yet).")
    owner = session.get(Person, deal.owner_id) if deal.owner_id is not None else None
    if not may_write(session, person, owner):
        whose = f"{owner.name}'s" if owner is not None else "this"
        raise NotAllowed(
            f"Only the deal's owner, their managers and coachbot admins can update {whose} deal “{clip(deal.name, 80)}”."
        )
    return deal, owner


def form_for(
    session: Session, person: Person, deal_id: int, playbook: Playbook, writable: Sequence[str], read_only: str | None = None
) -> DealForm:
    """The Update modal's content for `person`, who must be allowed to write to the deal."""
    deal, owner = deal_for_writer(session, person, deal_id)
    wanted = [*GAP_FIELDS, *playbook.required_fields_for(deal.stage)]
    fields = tuple(dict.fromkeys(name for name in wanted if name in LABELS and (read_only or name in writable)))
    gaps = session.scalars(
        select(ProcessGap.detail).where(ProcessGap.deal_id == deal.id, ProcessGap.resolved_at.is_(None)).order_by(ProcessGap.id)
    )
    return DealForm(
        deal_id=deal.id,
        deal_name=deal.name,
        owner_name=owner.name if owner is not None else None,
        currency=deal.currency,
        fields=fields,
        current=current_values(deal),
        stages=tuple(stage.name for stage in playbook.stages if not stage.closed) or (deal.stage,),
        open_gaps=tuple(detail or "" for detail in gaps),
        read_only=read_only,
    )


def current_values(deal: Deal) -> dict[str, Any]:
    return {name: getattr(deal, name) for name in LABELS}


def parse_submission(form: DealForm, submitted: Mapping[str, str | None], today: dt.date) -> dict[str, Any]:
    """The fields that change, as values (str, date, Decimal, None to clear); FormErrors when any is wrong."""
    errors: dict[str, str] = {}
    wanted: dict[str, Any] = {}
    for name in form.fields:
        if name not in submitted:
            continue  # not in the submitted form at all: left as it is
        raw = (submitted.get(name) or "").strip()
        try:
            wanted[name] = _value(name, raw, form, today)
        except ValueError as exc:
            errors[name] = str(exc)
    if (
        "next_step_date" in wanted
        and wanted["next_step_date"] is not None
        and not wanted.get("next_step", form.current.get("next_step"))
    ):
        errors.setdefault("next_step", "Say what the next step is: a date alone is not a next step.")
    if errors:
        raise FormErrors(errors)
    changes = {
        name: value
        for name, value in wanted.items()
        if value != form.current.get(name) and not _both_empty(value, form.current.get(name))
    }
    if not changes:
        raise FormErrors({GENERAL: "Nothing changed: edit a field, or close the form."})
    return changes


def _both_empty(new: Any, old: Any) -> bool:
    return new in (None, "") and old in (None, "")


def _value(name: str, raw: str, form: DealForm, today: dt.date) -> Any:
    if name in ("next_step_date", "close_date"):
        if not raw:
            return None
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError("Pick a date.") from None
        if day < today and day != form.current.get(name):  # an old date left as it was is no new mistake
            raise ValueError("Pick today or a later date: a date in the past would leave the gap open.")
        return day
    if name == "amount":
        if not raw:
            return None
        try:
            amount = Decimal(raw.replace(",", "").removeprefix("$").strip())
        except InvalidOperation:
            raise ValueError("Type the amount as a number, like 12500 or 12500.50.") from None
        if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
            raise ValueError("Type an amount of zero or more.")
        return amount.quantize(Decimal("0.01"))
    if name == "stage":
        if not raw:
            return form.current.get("stage")  # a deal always has a stage: none picked leaves it
        if raw not in form.stages:
            raise ValueError("Pick one of the playbook's open stages.")
        return raw
    if len(raw) > MAX_NEXT_STEP:
        raise ValueError(f"Keep it under {MAX_NEXT_STEP} characters.")
    return raw or None


def shown(name: str, value: Any, currency: str) -> str:
    """A field's value as the outcome shows it ("—" for empty)."""
    if value is None or value == "":
        return "—"
    if name == "amount":
        return money(Decimal(value), currency)
    if isinstance(value, dt.date):
        return value.isoformat()
    return clip(str(value), 120)


def outcome(
    deal: Deal, before: Mapping[str, Any], gaps_before: Mapping[int, str], gaps_after: Mapping[int, str], fields: Sequence[str]
) -> WriteOutcome:
    """What changed (as the CRM now holds it) and which gaps closed, for the modal's answer."""
    after = current_values(deal)
    changed = tuple(
        (LABELS[name], shown(name, before.get(name), deal.currency), shown(name, after.get(name), deal.currency))
        for name in LABELS
        if (name in fields or before.get(name) != after.get(name)) and before.get(name) != after.get(name)
    )
    closed = tuple(detail for gap_id, detail in gaps_before.items() if gap_id not in gaps_after)
    still = tuple(gaps_after.values())
    return WriteOutcome(deal.name, changed, closed, still, deal.crm_url)


def open_gaps(session: Session, deal_id: int) -> dict[int, str]:
    """The deal's open gaps: id -> what the gap says."""
    rows = session.execute(
        select(ProcessGap.id, ProcessGap.detail, ProcessGap.rule)
        .where(ProcessGap.deal_id == deal_id, ProcessGap.resolved_at.is_(None))
        .order_by(ProcessGap.id)
    )
    return {gap_id: detail or rule.replace("_", " ") for gap_id, detail, rule in rows}


def audit_write(
    session: Session, actor: Person, deal: Deal, owner_id: int | None, now: dt.datetime, *, slack_user_id: str,
    changes: Mapping[str, Any], result: str, reason: str | None = None,
) -> None:  # fmt: skip
    """One audit row per write attempt: who in Slack, which deal, which fields and values, and how it ended."""
    detail: dict[str, Any] = {
        "slack_user_id": slack_user_id,
        "deal_id": deal.id,
        "crm_source": deal.crm_source,
        "crm_id": deal.crm_id,
        "fields": {name: shown(name, value, deal.currency) for name, value in changes.items()},
        "result": result,
    }
    if reason:
        detail["reason"] = clip(reason, 500)
    owner = session.get(Person, owner_id) if owner_id is not None else None
    audit(session, actor, "crm_write", now, subject=owner, detail=detail)
