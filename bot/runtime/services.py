"""What listeners need besides the payload, put in every request's context by the app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import BoltContext
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import Playbook
from bot.settings import Settings

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Services:
    settings: Settings
    session_factory: sessionmaker[Session]
    playbook: Playbook
    clock: Clock


def services_of(context: BoltContext) -> Services:
    services: Services = context["services"]
    return services
