"""`coachbot outbox …`: see what is queued, parked or uncertain; send a parked message again; drop one.

Every retry and drop is written to the audit log (action "outbox_retry" / "outbox_drop") with no
actor (the command line has no coachbot person) and detail {"by": "cli", "user": <OS user>, …}.
A dropped row keeps its key, so the same decision never queues that message again.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.access import audit
from bot.dml import rows_affected
from bot.models import OutboxMessage, Person

outbox_app = typer.Typer(help="The outbox of Slack messages: list, retry parked ones, drop.", no_args_is_help=True)


class StatusFilter(StrEnum):
    waiting = "waiting"  # everything not yet sent or dropped (the default)
    pending = "pending"
    sending = "sending"
    sent = "sent"
    parked = "parked"
    uncertain = "uncertain"  # parked, and nobody can tell whether Slack has it
    dropped = "dropped"
    all = "all"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def cli_user() -> str:
    """Who ran the command, for the audit log (containers often have no name for their user)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _session_factory() -> sessionmaker[Session]:
    from bot.database import make_engine, make_session_factory
    from bot.settings import load_settings

    return make_session_factory(make_engine(load_settings().database_url))


@outbox_app.command("list")
def list_command(
    status: Annotated[
        StatusFilter, typer.Option(help="Which rows: waiting (not sent or dropped), a status, uncertain, or all.")
    ] = StatusFilter.waiting,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows, oldest first.")] = 50,
) -> None:
    """Messages in the outbox with their status, attempts and last error."""
    for line in list_lines(_session_factory(), status, limit):
        typer.echo(line)


def _where(status: StatusFilter) -> list[ColumnElement[bool]]:
    if status is StatusFilter.waiting:
        return [OutboxMessage.status.in_(("pending", "sending", "parked"))]
    if status is StatusFilter.uncertain:
        return [OutboxMessage.status == "parked", OutboxMessage.unconfirmed_since.is_not(None)]
    if status is StatusFilter.all:
        return []
    return [OutboxMessage.status == status.value]


def list_lines(session_factory: sessionmaker[Session], status: StatusFilter, limit: int) -> list[str]:
    """The table `outbox list` prints, one string a line."""
    with session_factory() as session:
        where = _where(status)
        total = session.scalar(select(func.count()).select_from(OutboxMessage).where(*where)) or 0
        found = session.scalars(select(OutboxMessage).where(*where).order_by(OutboxMessage.id).limit(limit)).all()
    if not found:
        return ["No messages." if status in (StatusFilter.all, StatusFilter.waiting) else f"No {status.value} messages."]
    table = [("ID", "STATUS", "KIND", "TO", "ATTEMPTS", "QUEUED (UTC)", "NOTE")]
    table += [
        (str(row.id), _status(row), row.kind, row.recipient, str(row.attempts), _when(row.created_at), _note(row))
        for row in found
    ]
    widths = [max(len(cells[column]) for cells in table) for column in range(len(table[0]) - 1)]
    lines = ["  ".join([*(cell.ljust(width) for cell, width in zip(cells, widths)), cells[-1]]).rstrip() for cells in table]
    shown = f"{len(found)} of {total}" if total > len(found) else f"{total}"
    lines.append(f"{shown} message(s)." + (" Use --limit to see more." if total > len(found) else ""))
    return lines


def _status(row: OutboxMessage) -> str:
    return "uncertain" if row.status == "parked" and row.unconfirmed_since is not None else row.status


def _when(moment: dt.datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


def _note(row: OutboxMessage) -> str:
    if row.status == "pending":
        check = "; looked for in Slack's history first" if row.unconfirmed_since else ""
        return f"due {_when(row.next_attempt_at)}{check}" + (f"; last: {row.last_error}" if row.last_error else "")
    if row.status == "sending":
        return f"claimed by {row.claimed_by} at {_when(row.claimed_at)}"
    if row.status == "sent":
        return f"sent {_when(row.sent_at)}, ts {row.slack_ts}"
    return row.last_error or ""


@outbox_app.command("retry")
def retry_command(
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox ids (from `coachbot outbox list`).", show_default=False)] = None,
    parked: Annotated[bool, typer.Option("--parked", help="Every parked message.")] = False,
) -> None:
    """Queue parked messages again: sent within seconds by a running coachbot (or `coachbot jobs run outbox_drain`)."""
    if bool(ids) == parked:
        raise typer.BadParameter("give message ids or --parked (not both)", param_hint="IDS")
    result = retry(_session_factory(), ids or [], utcnow(), all_parked=parked, user=cli_user())
    _finish(result)


@outbox_app.command("drop")
def drop_command(
    ids: Annotated[list[int], typer.Argument(help="Outbox ids (from `coachbot outbox list`).", show_default=False)],
) -> None:
    """Never send these pending or parked messages (the row stays, marked dropped, so it is not queued again)."""
    _finish(drop(_session_factory(), ids, utcnow(), user=cli_user()))


@dataclass
class Result:
    lines: list[str]
    refused: int = 0


def _finish(result: Result) -> None:
    for line in result.lines:
        typer.echo(line)
    if result.refused:
        raise typer.Exit(1)


def retry(
    session_factory: sessionmaker[Session], ids: Sequence[int], now: dt.datetime, *, all_parked: bool = False, user: str
) -> Result:
    """Parked rows back to pending with a fresh set of attempts; each change audited."""
    from bot.database import session_scope

    result = Result([])
    with session_scope(session_factory) as session:
        if all_parked:
            ids = list(
                session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "parked").order_by(OutboxMessage.id))
            )
            if not ids:
                return Result(["No parked messages."])
        for outbox_id in ids:
            row = _change(
                session, result, outbox_id, now, user=user, allowed=("parked",), verb="retry", audited_as="outbox_retry",
                values={"status": "pending", "attempts": 0, "next_attempt_at": now, "last_error": None},
            )  # fmt: skip
            if row is not None:
                check = "; Slack's history is checked first, so it is not posted twice" if row.unconfirmed_since else ""
                result.lines.append(f"Re-queued #{row.id} ({row.kind} to {row.recipient}){check}.")
    return result


def drop(session_factory: sessionmaker[Session], ids: Sequence[int], now: dt.datetime, *, user: str) -> Result:
    """Pending or parked rows marked dropped, never sent; each change audited."""
    from bot.database import session_scope

    result = Result([])
    with session_scope(session_factory) as session:
        for outbox_id in ids:
            row = _change(
                session, result, outbox_id, now, user=user, allowed=("pending", "parked"), verb="drop", audited_as="outbox_drop",
                values={"status": "dropped", "last_error": f"dropped by {user} with `coachbot outbox drop`"},
            )  # fmt: skip
            if row is not None:
                result.lines.append(f"Dropped #{row.id} ({row.kind} to {row.recipient}): it will not be sent.")
    return result


def _change(
    session: Session, result: Result, outbox_id: int, now: dt.datetime, *, user: str, allowed: tuple[str, ...], verb: str,
    audited_as: str, values: dict[str, object],
) -> OutboxMessage | None:  # fmt: skip
    """Apply `values` to one row still in an `allowed` status, audited; None (and said in `result`) when refused."""
    row = session.get(OutboxMessage, outbox_id)
    refusal = _refusal(row, outbox_id, allowed=allowed, verb=verb)
    if refusal or row is None:
        result.lines.append(refusal)
        result.refused += 1
        return None
    detail = _detail(row, user)
    # Conditional on the status read, so a row a drainer or another admin changed meanwhile is left alone.
    changed = rows_affected(
        session,
        update(OutboxMessage)
        .where(OutboxMessage.id == row.id, OutboxMessage.status == row.status)
        .values(**values)
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        result.lines.append(f"#{outbox_id}: changed meanwhile; nothing done.")
        result.refused += 1
        return None
    audit(session, None, audited_as, now, subject=_person(session, row.recipient), detail=detail)
    return row


def _refusal(row: OutboxMessage | None, outbox_id: int, allowed: tuple[str, ...], verb: str) -> str:
    if row is None:
        return f"#{outbox_id}: no such message."
    if row.status in allowed:
        return ""
    why = {
        "sent": f"was sent at {_when(row.sent_at)} UTC",
        "sending": "is being sent right now; look again in a minute",
        "pending": "is already queued",
        "dropped": "was dropped",
        "parked": "is parked: `coachbot outbox retry` or `drop` it",
    }.get(row.status, f"is {row.status}")
    return f"#{outbox_id}: {why}; nothing to {verb}."


def _detail(row: OutboxMessage, user: str) -> dict[str, object]:
    return {
        "by": "cli", "user": user, "outbox_id": row.id, "key": row.dedupe_key, "recipient": row.recipient,
        "status": row.status, "attempts": row.attempts, "last_error": row.last_error,
    }  # fmt: skip


def _person(session: Session, slack_user_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.slack_user_id == slack_user_id))
