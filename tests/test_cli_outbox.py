"""`coachbot outbox list | retry | drop`, as an admin uses them: exact output, rows and audit entries."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bot.cli import app
from bot.database import session_scope
from bot.messaging.outbox import enqueue
from bot.models import AuditEntry, OutboxMessage, Person

runner = CliRunner()
RILEY, MIA, OLLY = "U0RILEY", "U0MIA", "U0OLLY"
UNSURE = "uncertain: the attempt at 2026-11-25 14:00 UTC may have posted it, and coachbot could not read the history of D0RILEY (missing_scope, needs im:history)"


@pytest.fixture
def outbox(session_factory, now) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Four messages: sent, parked (Olly left), uncertain (Riley's DM unreadable), pending (Mia)."""
    earlier = now - dt.timedelta(hours=1)
    with session_scope(session_factory) as session:
        session.add(Person(email="riley.rep@example.com", name="Riley Rep", slack_user_id=RILEY, is_rep=True))
        for key, recipient in (("digest:mia:w47", MIA), ("nudge:olly", OLLY), ("nudge:riley", RILEY), ("checkin:mia", MIA)):
            enqueue(session, key=key, recipient=recipient, kind=key.split(":")[0], text=f"text of {key}", now=earlier)
    changes = {
        "digest:mia:w47": {"status": "sent", "attempts": 1, "sent_at": earlier, "slack_ts": "1795618800.000001"},
        "nudge:olly": {"status": "parked", "attempts": 1, "last_error": "channel_not_found"},
        "nudge:riley": {"status": "parked", "attempts": 2, "last_error": UNSURE, "unconfirmed_since": earlier},
        "checkin:mia": {"attempts": 1, "next_attempt_at": now, "last_error": "HTTP 503: service_unavailable"},
    }
    with session_scope(session_factory) as session:
        for key, values in changes.items():
            session.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == key).values(**values))
        return {row.dedupe_key: row.id for row in session.scalars(select(OutboxMessage))}


def invoke(database_url: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["outbox", *args], env={"DATABASE_URL": database_url, "LOGNAME": "dana"})


def rows(session_factory) -> dict[str, OutboxMessage]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return {row.dedupe_key: row for row in session.scalars(select(OutboxMessage))}


def audit_entries(session_factory) -> list[tuple[str, int | None, int | None, dict]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return [
            (e.action, e.actor_id, e.subject_id, e.detail) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_list_shows_what_waits_with_its_status_attempts_and_reason(database_url, outbox) -> None:  # type: ignore[no-untyped-def]
    done = invoke(database_url, "list")

    assert done.exit_code == 0, done.output
    # Ids grow across tests on PostgreSQL: the ID column is as wide as the longest.
    width = max(2, *(len(str(outbox[key])) for key in ("nudge:olly", "nudge:riley", "checkin:mia")))
    olly, riley, mia = (str(outbox[key]).ljust(width) for key in ("nudge:olly", "nudge:riley", "checkin:mia"))
    assert done.output.splitlines() == [
        f"{'ID'.ljust(width)}  STATUS     KIND     TO       ATTEMPTS  QUEUED (UTC)      NOTE",
        f"{olly}  parked     nudge    U0OLLY   1         2026-11-25 14:00  channel_not_found",
        f"{riley}  uncertain  nudge    U0RILEY  2         2026-11-25 14:00  {UNSURE}",
        f"{mia}  pending    checkin  U0MIA    1         2026-11-25 14:00  due 2026-11-25 15:00; last: HTTP 503: service_unavailable",
        "3 message(s).",
    ]


def test_list_filters_by_status_and_says_when_nothing_matches(database_url, outbox) -> None:  # type: ignore[no-untyped-def]
    sent = invoke(database_url, "list", "--status", "sent")
    uncertain = invoke(database_url, "list", "--status", "uncertain", "--limit", "5")
    dropped = invoke(database_url, "list", "--status", "dropped")
    limited = invoke(database_url, "list", "--status", "all", "--limit", "1")

    assert sent.output.splitlines()[1:] == [
        f"{str(outbox['digest:mia:w47']).ljust(2)}  sent    digest  U0MIA  1         2026-11-25 14:00  sent 2026-11-25 14:00, ts 1795618800.000001",
        "1 message(s).",
    ]
    assert [line.split()[:2] for line in uncertain.output.splitlines()[1:-1]] == [[str(outbox["nudge:riley"]), "uncertain"]]
    assert dropped.output == "No dropped messages.\n"
    assert limited.output.splitlines()[-1] == "1 of 4 message(s). Use --limit to see more."
    bad = invoke(database_url, "list", "--status", "lost")
    assert bad.exit_code == 2 and "'lost' is not one of" in bad.output


def test_retry_queues_parked_messages_again_and_audits_each(database_url, session_factory, outbox, now) -> None:  # type: ignore[no-untyped-def]
    olly, riley = outbox["nudge:olly"], outbox["nudge:riley"]

    done = invoke(database_url, "retry", str(olly), str(riley))

    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"Re-queued #{olly} (nudge to U0OLLY).",
        f"Re-queued #{riley} (nudge to U0RILEY); Slack's history is checked first, so it is not posted twice.",
    ]
    stored = rows(session_factory)
    for key in ("nudge:olly", "nudge:riley"):
        assert (stored[key].status, stored[key].attempts, stored[key].last_error) == ("pending", 0, None)
        assert stored[key].next_attempt_at <= dt.datetime.now(dt.UTC)
    assert stored["nudge:riley"].unconfirmed_since == now - dt.timedelta(hours=1)
    with session_factory() as session:
        riley_person = session.scalars(select(Person.id)).one()
    assert audit_entries(session_factory) == [
        ("outbox_retry", None, None, {"by": "cli", "user": "dana", "outbox_id": olly, "key": "nudge:olly", "recipient": OLLY,
                                      "status": "parked", "attempts": 1, "last_error": "channel_not_found"}),
        ("outbox_retry", None, riley_person, {"by": "cli", "user": "dana", "outbox_id": riley, "key": "nudge:riley",
                                              "recipient": RILEY, "status": "parked", "attempts": 2, "last_error": UNSURE}),
    ]  # fmt: skip


def test_retry_parked_takes_every_parked_message_and_refuses_others(database_url, session_factory, outbox) -> None:  # type: ignore[no-untyped-def]
    everything = invoke(database_url, "retry", "--parked")
    assert everything.exit_code == 0
    assert [line.split(" (")[0] for line in everything.output.splitlines()] == [
        f"Re-queued #{outbox['nudge:olly']}", f"Re-queued #{outbox['nudge:riley']}",
    ]  # fmt: skip

    refused = invoke(database_url, "retry", str(outbox["digest:mia:w47"]), str(outbox["checkin:mia"]), "999")
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        f"#{outbox['digest:mia:w47']}: was sent at 2026-11-25 14:00 UTC; nothing to retry.",
        f"#{outbox['checkin:mia']}: is already queued; nothing to retry.",
        "#999: no such message.",
    ]
    assert invoke(database_url, "retry", "--parked").output == "No parked messages.\n"
    neither = invoke(database_url, "retry")
    assert neither.exit_code == 2 and "give message ids or --parked (not both)" in neither.output
    assert [entry[0] for entry in audit_entries(session_factory)] == ["outbox_retry", "outbox_retry"]


def test_drop_marks_messages_never_to_be_sent_and_the_key_stays_used(database_url, session_factory, outbox, now) -> None:  # type: ignore[no-untyped-def]
    olly, mia, sent = outbox["nudge:olly"], outbox["checkin:mia"], outbox["digest:mia:w47"]

    done = invoke(database_url, "drop", str(olly), str(mia), str(sent))

    assert done.exit_code == 1
    assert done.output.splitlines() == [
        f"Dropped #{olly} (nudge to U0OLLY): it will not be sent.",
        f"Dropped #{mia} (checkin to U0MIA): it will not be sent.",
        f"#{sent}: was sent at 2026-11-25 14:00 UTC; nothing to drop.",
    ]
    stored = rows(session_factory)
    assert (stored["nudge:olly"].status, stored["checkin:mia"].status, stored["digest:mia:w47"].status) == (
        "dropped",
        "dropped",
        "sent",
    )
    assert stored["checkin:mia"].last_error == "dropped by dana with `coachbot outbox drop`"
    assert [(action, detail["outbox_id"], detail["status"]) for action, _, _, detail in audit_entries(session_factory)] == [
        ("outbox_drop", olly, "parked"), ("outbox_drop", mia, "pending"),
    ]  # fmt: skip
    with session_scope(session_factory) as session:
        assert enqueue(session, key="checkin:mia", recipient=MIA, kind="checkin", text="again", now=now) is False
    assert invoke(database_url, "list", "--status", "dropped").output.count("dropped by dana") == 2
