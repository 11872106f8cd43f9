"""Snooze… and I fixed it, through the Bolt app with signed requests: the modal, its errors and its
rows; the claim, its reply, and what the next sync makes of it."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from typing import Any

from slack_bolt import BoltRequest
from sqlalchemy import select, update

from bot.blocks.gap_actions import snooze_modal
from bot.coaching.gaps import scan_gaps
from bot.coaching.playbook import load_playbook
from bot.database import session_scope
from bot.models import AuditEntry, CrmSyncState, Deal, OutboxMessage, ProcessGap
from bot.settings import Settings
from bot.slack_ids import (
    NUDGE_GAP_FIXED,
    NUDGE_GAP_SNOOZE,
    SNOOZE_REASON_BLOCK,
    SNOOZE_REASON_INPUT,
    SNOOZE_UNTIL_BLOCK,
    SNOOZE_UNTIL_INPUT,
    SNOOZE_VIEW,
)
from jobs import gap_scan
from jobs.job import JobContext
from tests.handlers.test_buttons import app, buttons, click, team
from tests.support.signing import sign

__all__ = ["app", "team"]
PLAYBOOK = load_playbook()


def snooze_form(gap_id: int, until: str | None, reason: str | None, response_url: str | None = None) -> dict[str, Any]:
    return {"type": "modal", "callback_id": SNOOZE_VIEW, "private_metadata": json.dumps({"gap": gap_id, "response_url": response_url}),
            "state": {"values": {
                SNOOZE_UNTIL_BLOCK: {SNOOZE_UNTIL_INPUT: {"type": "datepicker", "selected_date": until}},
                SNOOZE_REASON_BLOCK: {SNOOZE_REASON_INPUT: {"type": "plain_text_input", "value": reason}}}}}  # fmt: skip


def submit(app, user: str, view: dict[str, Any]):  # type: ignore[no-untyped-def]
    payload = {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001", "view": view}
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return app.dispatch(BoltRequest(body=body, headers=sign(body)))


def scanned_gap(session_factory, now, rule: str = "close_date_past") -> int:  # type: ignore[no-untyped-def]
    """Riley's Globex expansion (O2) after a scan: its close date Nov 20 has passed, among other gaps."""
    scan_gaps(session_factory, PLAYBOOK, now, default_timezone="America/New_York")
    with session_factory() as session:
        return session.scalar(
            select(ProcessGap.id).join(Deal, Deal.id == ProcessGap.deal_id).where(Deal.crm_id == "O2", ProcessGap.rule == rule)
        )  # type: ignore[return-value]


def audits(session_factory, action: str) -> list[tuple[int | None, int | None, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        rows = session.execute(
            select(AuditEntry.actor_id, AuditEntry.subject_id, AuditEntry.detail).where(AuditEntry.action == action)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_snooze_opens_a_modal_asking_until_when_and_why(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    gap_id = scanned_gap(session_factory, now)
    click(app, slack, "URILEY", NUDGE_GAP_SNOOZE, str(gap_id), buttons(NUDGE_GAP_SNOOZE, str(gap_id)))
    [opened] = slack.wait_for("views.open")
    assert opened.body["trigger_id"] == "1.2.3"
    expected = snooze_modal(gap_id=gap_id, deal_name="Globex expansion", detail="close date Nov 20 has passed",
                            today=dt.date(2026, 11, 25), max_days=90, response_url=slack.response_url("URILEY")).to_dict()  # fmt: skip
    assert opened.body["view"] == expected
    assert json.loads(expected["private_metadata"]) == {"gap": gap_id, "response_url": slack.response_url("URILEY")}


def test_the_snooze_modal_refuses_a_past_or_far_date_and_a_blank_reason_and_changes_nothing(
    app, slack, session_factory, team, now
) -> None:  # type: ignore[no-untyped-def]
    gap_id = scanned_gap(session_factory, now)
    cases = [
        (snooze_form(gap_id, "2026-11-25", "  "), {SNOOZE_UNTIL_BLOCK: "Pick a date after today.",
                                                  SNOOZE_REASON_BLOCK: "Say why: your manager sees the reason."}),
        (snooze_form(gap_id, "2027-02-24", "Buyer on leave"), {SNOOZE_UNTIL_BLOCK: "Snooze for 90 days at most (until Feb 23)."}),
        (snooze_form(gap_id, None, "Buyer on leave"), {SNOOZE_UNTIL_BLOCK: "Pick the date it should come back."}),
        (snooze_form(999999, "2026-12-02", "Buyer on leave"), {SNOOZE_REASON_BLOCK: "That gap is gone: the deal was fixed or removed."}),
    ]  # fmt: skip
    for view, errors in cases:
        response = submit(app, "URILEY", view)
        assert (response.status, json.loads(response.body)) == (200, {"response_action": "errors", "errors": errors})
    with session_factory() as session:
        gap = session.get_one(ProcessGap, gap_id)
        assert (gap.snoozed_until, gap.snooze_reason) == (None, None)
    assert audits(session_factory, "snooze_gap") == []


def test_a_snooze_stores_the_reps_own_reason_and_date_audits_it_and_tells_the_rep(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    gap_id = scanned_gap(session_factory, now)
    view = snooze_form(gap_id, "2026-12-02", "  Buyer on leave until the 1st; call booked ", slack.response_url("URILEY"))
    response = submit(app, "URILEY", view)
    assert (response.status, response.body) == (200, "")
    [told] = slack.wait_for("response")
    assert told.body == {
        "text": ":zzz: Snoozed until Dec 2: “Buyer on leave until the 1st; call booked”. Your manager sees it; "
        "it ends early if the gap is fixed.",
        "replace_original": False, "response_type": "ephemeral",
    }  # fmt: skip
    with session_factory() as session:
        gap = session.get_one(ProcessGap, gap_id)
        assert (gap.snoozed_until, gap.snooze_reason) == (dt.date(2026, 12, 2), "Buyer on leave until the 1st; call booked")
    assert audits(session_factory, "snooze_gap") == [
        (
            team["riley"],
            team["riley"],
            {"gap_id": gap_id, "until": "2026-12-02", "reason": "Buyer on leave until the 1st; call booked"},
        )
    ]


def test_someone_outside_the_reps_chain_cannot_snooze_their_gap(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    from bot.models import Person

    gap_id = scanned_gap(session_factory, now)
    slack.add_user("UOLLY", "olly@example.com")
    with session_scope(session_factory) as session:
        session.add(Person(email="olly@example.com", name="Olly Other", is_rep=True, slack_user_id="UOLLY"))
    response = submit(app, "UOLLY", snooze_form(gap_id, "2026-12-02", "mine now"))
    assert json.loads(response.body) == {
        "response_action": "errors", "errors": {SNOOZE_REASON_BLOCK: "Only the deal's owner or their manager can snooze this."},
    }  # fmt: skip


def claim(app, slack, session_factory, gap_id: int) -> Any:  # type: ignore[no-untyped-def]
    click(app, slack, "URILEY", NUDGE_GAP_FIXED, str(gap_id), buttons(NUDGE_GAP_FIXED, str(gap_id)))
    [reply] = slack.wait_for("response")
    return reply


def test_i_fixed_it_marks_the_gap_for_a_recheck_audits_it_and_says_so_in_place(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    gap_id = scanned_gap(session_factory, now)
    reply = claim(app, slack, session_factory, gap_id)
    assert reply.body["replace_original"] is True
    assert reply.body["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Book a QBR"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            ":mag: Thanks: coachbot rechecks *Globex expansion* on the next CRM sync and closes the gap if the CRM agrees. "
            "If it still shows the gap, I'll tell you.")}]},
    ]  # fmt: skip
    with session_factory() as session:
        assert session.get_one(ProcessGap, gap_id).fix_claimed_at == now
    assert audits(session_factory, "claim_gap_fixed") == [
        (team["riley"], team["riley"], {"gap_id": gap_id, "rule": "close_date_past"})
    ]


def next_sync_and_scan(session_factory, now: dt.datetime, *, fix_in_crm: bool) -> str:  # type: ignore[no-untyped-def]
    """What the schedule does an hour later: a CRM sync (the rep's fix in it, or not), then the gap scan job."""
    synced_at = now + dt.timedelta(hours=1)
    with session_scope(session_factory) as session:
        if fix_in_crm:
            session.execute(update(Deal).where(Deal.crm_id == "O2").values(close_date=dt.date(2026, 12, 18)))
        session.merge(
            CrmSyncState(connection="test", last_started_at=synced_at, last_finished_at=synced_at + dt.timedelta(minutes=2))
        )
    settings = Settings(_env_file=None, timezone="America/New_York")  # type: ignore[call-arg]
    return gap_scan._run_job(JobContext(settings, session_factory, PLAYBOOK), synced_at + dt.timedelta(minutes=3), None)


def still_open_messages(session_factory) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "gap_still_open").order_by(OutboxMessage.id))
        return [(row.recipient, row.payload["text"]) for row in rows]


def test_when_the_crm_agrees_the_next_sync_closes_the_gap_and_says_nothing_more(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    gap_id = scanned_gap(session_factory, now)
    claim(app, slack, session_factory, gap_id)
    summary = next_sync_and_scan(session_factory, now, fix_in_crm=True)
    assert "1 'I fixed it' rechecked, 0 still open" in summary
    with session_factory() as session:
        gap = session.get_one(ProcessGap, gap_id)
        assert (gap.resolved_at is not None, gap.fix_claimed_at) == (True, None)
    assert still_open_messages(session_factory) == []
    assert audits(session_factory, "recheck_gap_fixed") == [(None, team["riley"], {"gap_id": gap_id, "outcome": "closed"})]


def test_when_the_crm_still_shows_the_gap_the_rep_is_told_once(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    gap_id = scanned_gap(session_factory, now)
    claim(app, slack, session_factory, gap_id)
    # Before any sync since the claim, nothing is settled: the claim waits.
    settings = Settings(_env_file=None, timezone="America/New_York")  # type: ignore[call-arg]
    gap_scan._run_job(JobContext(settings, session_factory, PLAYBOOK), now + dt.timedelta(minutes=5), None)
    with session_factory() as session:
        assert session.get_one(ProcessGap, gap_id).fix_claimed_at == now
    next_sync_and_scan(session_factory, now, fix_in_crm=False)
    assert still_open_messages(session_factory) == [
        ("URILEY", "You said you fixed Globex expansion, but the CRM still shows: close date Nov 20 has passed.")
    ]
    with session_factory() as session:
        gap = session.get_one(ProcessGap, gap_id)
        assert (gap.resolved_at, gap.fix_claimed_at) == (None, None)
        blocks = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == "gap_still_open")).one()["blocks"]
    assert blocks[0]["text"]["text"] == (
        ":mag: You said you fixed *Globex expansion*, but after the latest CRM sync it still shows: close date Nov 20 has passed.\n"
        "_Do:_ Move the close date to when it will really close, or close it lost."
    )
    assert blocks[1]["elements"][0]["url"] == "https://crm.example.com/deals/O2"
    # Told once: the next scan has no claim left to settle.
    next_sync_and_scan(session_factory, now + dt.timedelta(hours=1), fix_in_crm=False)
    assert len(still_open_messages(session_factory)) == 1
    assert audits(session_factory, "recheck_gap_fixed") == [(None, team["riley"], {"gap_id": gap_id, "outcome": "still_open"})]


def test_a_gap_the_rep_said_they_fixed_stays_out_of_nudges_until_the_recheck(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    from bot.coaching.gaps import nudge_items

    gap_id = scanned_gap(session_factory, now)
    with session_factory() as session:
        assert gap_id in [item.gap_id for item in nudge_items(session, team["riley"], PLAYBOOK, now)]
    claim(app, slack, session_factory, gap_id)
    with session_factory() as session:
        assert gap_id not in [item.gap_id for item in nudge_items(session, team["riley"], PLAYBOOK, now)]
    next_sync_and_scan(session_factory, now, fix_in_crm=False)
    with session_factory() as session:
        assert gap_id in [item.gap_id for item in nudge_items(session, team["riley"], PLAYBOOK, now + dt.timedelta(hours=2))]
