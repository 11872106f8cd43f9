"""Domain calls as listeners and jobs make them: the notices they decide on are queued through the
delivery layer in the same session, so a test can assert on the outbox rows."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from bot.coaching.notices import Notices
from bot.coaching.playbook import load_playbook
from bot.delivery.messages import deliver


def delivered(decide: Callable[..., Any]) -> Callable[..., Any]:
    """`decide(session, notices, ...)` as `f(session, ...)`, its notices delivered at the call's `now`
    (held back to each recipient's window by the call's playbook, else the default one)."""

    @functools.wraps(decide)
    def run(session: Session, *args: Any, **kwargs: Any) -> Any:
        notices = Notices()
        result = decide(session, notices, *args, **kwargs)
        now = kwargs.get("now") or next(arg for arg in args if isinstance(arg, dt.datetime))
        playbook = kwargs.get("playbook") or load_playbook()
        deliver(session, notices, now, playbook=playbook, default_timezone=kwargs.get("default_timezone", "UTC"))
        return result

    return run
