"""One unit of work per request: a database session, committed when the listener's work is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from slack_bolt import BoltContext
from sqlalchemy.orm import Session

from bot.database import session_scope
from bot.runtime.services import services_of


@contextmanager
def unit_of_work(context: BoltContext) -> Iterator[Session]:
    """The request's database session, committed when the listener is done (rolled back on an error).

    Listeners run after ack() on Bolt's worker thread, after global middleware has returned, so
    the session is opened here, around the listener's work, rather than in a middleware. Slack
    is called before it opens or after it closes, never inside: a transaction held across a
    round trip to Slack holds its locks for as long as Slack takes.
    """
    with session_scope(services_of(context).session_factory) as session:
        yield session
