"""The App Home tab: built from the one read model and published after the work is committed.

A Home that cannot be published (Slack refuses, the network fails) is logged and left as it was:
it is refreshed the next time it is opened, and the change that prompted it has already happened.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session

from bot.access import audit
from bot.blocks.home import home_view
from bot.coaching.home import home_for
from bot.database import session_scope
from bot.models import Person
from bot.runtime.services import Services

log = logging.getLogger(__name__)


def build_home(session: Session, person: Person, now: dt.datetime, services: Services) -> dict[str, Any]:
    """`person`'s Home view; a team summary in it is a look at the reps' data, so it is audited."""
    settings = services.settings
    data = home_for(
        session, person, now, services.playbook, default_timezone=settings.timezone, default_currency=settings.currency,
        fiscal_year_start_month=settings.fiscal_year_start_month,
    )  # fmt: skip
    if data.team is not None and data.team.rep_ids:
        audit(session, person, "view_team", now, detail={"surface": "app_home", "rep_ids": sorted(data.team.rep_ids)})
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


def publish_homes(client: WebClient, services: Services, person_ids: Iterable[int | None], now: dt.datetime) -> int:
    """Rebuild and publish the Homes of these people, each in a unit of work of its own committed
    before the Slack call; the number published (people without a Slack account are skipped)."""
    published = 0
    for person_id in dict.fromkeys(person_id for person_id in person_ids if person_id is not None):
        with session_scope(services.session_factory) as session:
            person = session.get(Person, person_id)
            if person is None or not person.slack_user_id:
                log.info("App Home of person %s not published: no Slack account linked", person_id)
                continue
            user_id, view = person.slack_user_id, build_home(session, person, now, services)
        published += send_home(client, user_id, view)
    return published
