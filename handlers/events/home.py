"""The App Home tab: published when the person opens it, and again when something on it changes.

`publish_home` is what other listeners call after a change (a Done or Snooze click, a /coach
action or goal). A Home that cannot be published (Slack refuses, the network fails) is logged
and left as it was: it is refreshed the next time it is opened, and the change that prompted it
has already happened.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot.access import audit
from bot.app import guarded, unit_of_work
from bot.blocks.home import home_view, not_linked_home_view
from bot.coaching.home import home_for
from bot.coaching.playbook import Playbook
from bot.database import session_scope
from bot.identity import person_for_slack_user
from bot.models import Person
from bot.settings import Settings
from bot.slack_ids import APP_HOME_OPENED

log = logging.getLogger(__name__)


def handle_app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab fires the same event
    services = context["services"]
    now = services.clock()
    user_id = event["user"]
    with unit_of_work(context) as session:
        caller = person_for_slack_user(session, client, user_id)
        if caller.person is None:
            view = not_linked_home_view(caller.email)
        else:
            view = build_home(session, caller.person, now, playbook=services.playbook, settings=services.settings)
    # After the commit: no transaction held open across a Slack round trip.
    send_home(client, user_id, view)


def build_home(session: Session, person: Person, now: dt.datetime, *, playbook: Playbook, settings: Settings) -> dict[str, Any]:
    """`person`'s Home view; a team summary in it is a look at the reps' data, so it is audited."""
    data = home_for(
        session, person, now, playbook, default_timezone=settings.timezone, default_currency=settings.currency,
        fiscal_year_start_month=settings.fiscal_year_start_month,
    )  # fmt: skip
    if data.team is not None and data.team.rep_ids:
        audit(session, person, "view_team", now, detail={"surface": "app_home", "rep_ids": list(data.team.rep_ids)})
    return home_view(data)


def send_home(client: WebClient, user_id: str, view: dict[str, Any]) -> bool:
    """views.publish; False (and logged) when Slack refuses it or cannot be reached."""
    try:
        client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        log.warning("App Home of %s not published: Slack answered %s", user_id, exc.response.get("error"))
        return False
    except (SlackClientError, OSError) as exc:  # slack_sdk's own retries are spent by now
        log.warning("App Home of %s not published: %s", user_id, type(exc).__name__)
        return False
    return True


def publish_home(
    client: WebClient,
    database: Session | sessionmaker[Session],
    person: Person,
    now: dt.datetime,
    *,
    playbook: Playbook,
    settings: Settings,
) -> bool:
    """Build and publish `person`'s Home; False when they have no Slack account linked or it failed (logged).

    `database` is either the caller's session (the Home sees its changes, and the audit entry
    joins its transaction) or a session factory: then the Home is built in a unit of work of its
    own, committed before the Slack call.
    """
    if not person.slack_user_id:
        log.info("App Home of person %s not published: no Slack account linked", person.id)
        return False
    if isinstance(database, Session):
        view = build_home(database, person, now, playbook=playbook, settings=settings)
    else:
        with session_scope(database) as session:
            current = session.get(Person, person.id)
            if current is None:
                return False  # removed meanwhile: nothing to show
            view = build_home(session, current, now, playbook=playbook, settings=settings)
    return send_home(client, person.slack_user_id, view)


def register(app: App) -> None:
    app.event(APP_HOME_OPENED)(guarded(handle_app_home_opened))
