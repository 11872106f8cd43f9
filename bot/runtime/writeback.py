"""Saving an Update modal: write to the CRM, read the deal back, store it, judge its gaps again.

The order matters. Who may write is checked again at submission (the modal may be old); the CRM
is called with no database transaction open (a slow CRM must not hold locks); the deal read back
is stored through the sync's own path, so the next sync finds it unchanged; then the gap scan
runs (incremental: the stored deal's write counter tells it which deal to judge). Every attempt
is audited, refused ones too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.coaching.gaps import GapError, scan_gaps
from bot.coaching.writeback import (
    DealForm,
    WriteOutcome,
    audit_write,
    current_values,
    deal_for_writer,
    form_for,
    open_gaps,
    outcome,
)
from bot.crm.base import CrmError
from bot.crm.providers import writer_from_settings
from bot.crm.sync import store_deal
from bot.crm.writes import CrmWriter, WriteRefused
from bot.database import session_scope
from bot.models import Deal, Person
from bot.runtime.services import Services

log = logging.getLogger(__name__)


def connected_writer(services: Services) -> CrmWriter:
    """The configured CRM as a writer; a WriteRefused naming the setting when it cannot even be built."""
    try:
        return writer_from_settings(services.settings, services.clock())
    except CrmError as exc:
        raise WriteRefused("permission", f"coachbot cannot reach the CRM: {exc}") from None


def update_form(services: Services, person_id: int, deal_id: int) -> DealForm:
    """The Update modal's content: the deal's fields the connected CRM can write (or why none)."""
    writable: tuple[str, ...] = ()
    read_only = None
    try:
        writer = connected_writer(services)
    except WriteRefused as refused:
        read_only = str(refused)
    else:
        try:
            writable = writer.write_fields()
            if not writable:
                # A read-only provider (the CSV export, the demo) says why in its refusal.
                writer.write_deal("", {})
        except WriteRefused as refused:
            read_only = str(refused)
        finally:
            _close(writer)
    with session_scope(services.session_factory) as session:
        person = session.get_one(Person, person_id)
        return form_for(session, person, deal_id, services.playbook, writable, read_only)


def save_update(services: Services, person_id: int, slack_user_id: str, deal_id: int, changes: Mapping[str, Any]) -> WriteOutcome:
    """Write `changes` to the deal in the CRM and answer what changed; WriteRefused (audited) when refused."""
    now = services.clock()
    with session_scope(services.session_factory) as session:
        person = session.get_one(Person, person_id)
        deal, _ = deal_for_writer(session, person, deal_id)
        source, crm_id, owner_id = deal.crm_source, deal.crm_id, deal.owner_id
        before, gaps_before = current_values(deal), open_gaps(session, deal_id)

    def audited(result: str, reason: str | None = None) -> None:
        with session_scope(services.session_factory) as session:
            actor, stored = session.get_one(Person, person_id), session.get_one(Deal, deal_id)
            audit_write(
                session, actor, stored, owner_id, now, slack_user_id=slack_user_id, changes=changes, result=result,
                reason=reason,
            )  # fmt: skip

    writer = connected_writer(services)
    try:
        if writer.source != source:
            raise WriteRefused(
                "read_only", f"This deal came from {source}, and coachbot is now connected to {writer.source}: update it there."
            )
        try:
            writer.write_deal(crm_id, _with_stage_aliases(changes, services))
        except WriteRefused:
            raise
        except CrmError as exc:
            # Raised before the write was sent (looking up a stage id, say): nothing changed.
            raise WriteRefused("unavailable", f"Nothing was changed: {exc}") from None
        try:
            fresh = writer.read_deal(crm_id)
        except CrmError as exc:
            log.warning("crm write to %s %s saved, but reading it back failed: %s", source, crm_id, exc)
            audited("saved", f"read back failed: {exc}")
            return WriteOutcome(
                deal.name, (), (), tuple(gaps_before.values()),
                note="The CRM saved the change, but coachbot could not read the deal back: the next sync brings it in.",
            )  # fmt: skip
    except WriteRefused as refused:
        audited(refused.kind, str(refused))
        raise
    finally:
        _close(writer)

    with session_scope(services.session_factory) as session:
        store_deal(session, source, fresh, services.playbook, now, services.settings.currency)
        audit_write(
            session, session.get_one(Person, person_id), session.get_one(Deal, deal_id), owner_id, now,
            slack_user_id=slack_user_id, changes=changes, result="saved",
        )  # fmt: skip
    note = None
    try:
        scan_gaps(services.session_factory, services.playbook, now, default_timezone=services.settings.timezone)
    except GapError:
        note = "A gap scan is running just now: the deal's gaps are judged again when it finishes."
    with services.session_factory() as session:
        stored = session.get_one(Deal, deal_id)
        result = outcome(stored, before, gaps_before, open_gaps(session, deal_id) if note is None else gaps_before, list(changes))
    return replace(result, note=note) if note else result


def _with_stage_aliases(changes: Mapping[str, Any], services: Services) -> Mapping[str, Any]:
    """A stage as the playbook's name and then its aliases: the CRM may know it by either."""
    stage = changes.get("stage")
    if not isinstance(stage, str):
        return changes
    aliases = [alias for alias, target in services.playbook.aliases if target == stage]
    return {**changes, "stage": (stage, *aliases)}


def _close(writer: CrmWriter) -> None:
    close = getattr(writer, "close", None)
    if callable(close):
        close()
