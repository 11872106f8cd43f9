"""The weekly digest, composed, charted and queued under digest:<manager>:<monday>."""

from __future__ import annotations

import base64
import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks import to_dicts
from bot.blocks.digest import digest_blocks, digest_text
from bot.charts import ChartLine, number_and_process_chart
from bot.coaching.digest import Digest, weekly_digest
from bot.coaching.playbook import Playbook
from bot.messaging.outbox import enqueue
from bot.models import Person

MAX_CHARTED_REPS = 40  # more bars than this no longer read on a phone


def queue_weekly_digest(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> bool:  # fmt: skip
    """Queue this week's digest for `manager`; True if queued."""
    notice = weekly_digest(
        session, manager, playbook, now, default_timezone=default_timezone, default_currency=default_currency,
        fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    if notice is None:
        return False
    assert manager.slack_user_id is not None  # weekly_digest decides nothing for someone not in Slack
    digest = notice.digest
    return enqueue(
        session, key=notice.key, recipient=manager.slack_user_id, kind=notice.kind, text=digest_text(digest),
        blocks=to_dicts(digest_blocks(digest)), now=now, extra={"chart": chart_attachment(digest)},
    )  # fmt: skip


def chart_lines(digest: Digest) -> list[ChartLine]:
    """What the chart draws: a leader's teams, or a manager's reps with a quota, by name (at most 40)."""
    if digest.is_leader:
        return [
            ChartLine(team.name, team.attainment, team.projected_attainment, team.adherence, team.discipline.median_hours_to_fix)
            for team in digest.teams[:MAX_CHARTED_REPS]
        ]
    weeks = {week.person_id: week for week in digest.weeks}
    return [
        ChartLine(row.name, row.attainment, row.projected_attainment, row.adherence,
                  weeks[row.person_id].discipline.median_hours_to_fix if row.person_id in weeks else None)
        for row in digest.rows
        if row.attainment is not None
    ][:MAX_CHARTED_REPS]  # fmt: skip


def chart_attachment(digest: Digest) -> dict[str, str]:
    """The digest's chart as the sender uploads it (files_upload_v2) beside the message."""
    what = "teams" if digest.is_leader else "reps"
    chart = number_and_process_chart(
        chart_lines(digest), digest.team.elapsed_share,
        f"{digest.team.period.label}, {what}: the number beside the process",
    )  # fmt: skip
    return {
        "filename": f"team-{digest.week_of.isoformat()}.png", "title": f"Team, week of {digest.week_of:%b %d}",
        "png_base64": base64.b64encode(chart).decode(),
    }  # fmt: skip
