"""`/teamperf` through the Bolt app: signed requests in, the stand-in Slack records what was shown."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import func, insert, select

from bot.app import create_app
from bot.blocks import to_dicts
from bot.blocks.scorecard import scorecard_blocks
from bot.blocks.team import LEGEND
from bot.coaching.gaps import scan_gaps
from bot.coaching.playbook import load_playbook
from bot.coaching.service import scorecard_for
from bot.coaching.team import NO_TEAM, NOT_YOUR_REP
from bot.database import session_scope
from bot.models import AuditEntry, Deal, Person, Quota
from bot.settings import Settings
from handlers.commands import teamperf as teamperf_command
from tests.blocks.test_team_blocks import assert_within_slack_limits, table_lines
from tests.coaching.test_team import seed_org
from tests.support.personas import MIA, OUTSIDER, RILEY
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body

TIMEZONE = "America/New_York"
SLACK_USERS = {
    "UDANA": "dana.director@example.com", "UMIA": MIA, "URILEY": RILEY, "UCARL": "carl.coach@example.com",
    "UADA": "ada.admin@example.com", "UMAX": "max.manager@example.com", "UOLLY": OUTSIDER, "USAM": "sam.rep@example.com",
}  # fmt: skip


@pytest.fixture
def app(slack, session_factory, database_url, now):  # type: ignore[no-untyped-def]
    settings = Settings(
        slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url, timezone=TIMEZONE,
    )  # fmt: skip
    app = create_app(settings, session_factory=session_factory, clock=lambda: now)
    return app


@pytest.fixture
def org(slack, session_factory, now) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    scan_gaps(session_factory, load_playbook(), now, default_timezone=TIMEZONE)
    for user_id, email in SLACK_USERS.items():
        slack.add_user(user_id, email, tz=TIMEZONE)
    return ids


def teamperf(app, slack, user_id: str, text: str = ""):  # type: ignore[no-untyped-def]
    body = slash_command_body("/teamperf", text, user_id, slack.response_url())
    return app.dispatch(BoltRequest(body=body, headers=sign(body)))


def shown(slack, count: int = 1) -> dict:  # type: ignore[no-untyped-def]
    return slack.wait_for("response", count)[-1].body


def texts(message: dict) -> list[str]:
    found = []
    for block in message.get("blocks", []):
        if "text" in block:
            found.append(block["text"]["text"])
        found.extend(field["text"] for field in block.get("fields", []))
        found.extend(element["text"] for element in block.get("elements", []))
    return found


def audit_rows(session_factory) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return sorted(
            tuple(row)
            for row in session.execute(select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail))
        )


def test_a_manager_sees_the_reps_under_them_directly_and_indirectly(app, slack, org) -> None:  # type: ignore[no-untyped-def]
    response = teamperf(app, slack, "UDANA")
    assert (response.status, response.body) == (200, "")
    message = shown(slack)
    assert message["response_type"] == "ephemeral"
    assert message["text"] == "Q4 2026, your team: 3 reps, 3 need attention."
    assert texts(message) == [
        "Q4 2026 team · Dana Director",
        "*Q4 2026*, 60% gone · *3 reps*, 3 need attention\n"
        "Team (the 1 of 3 reps with a quota in USD): *$40,000* won of $100,000 quota (*40%*), projected *86%*\n"
        "Process: 67% of 6 open deals have no gap",
        "*Who needs attention*\n"
        "• *Sam Rep*: projected 46% of quota; pace 41%; 1 overdue action\n"
        "• *Riley Rep*: pace 66%; only 50% of open deals follow the process\n"
        "• *Tess Rep*: only 0% of open deals follow the process; a recovery plan waits for you to open it",
        "```rep                  won  pace  proj process gaps  od plan\n"
        "Sam Rep              25%   41%   46%    100%    0   1 plan\n"
        "Riley Rep            40%   66%   86%     50%    1\n"
        "Tess Rep               –     –     –      0%    1     plan?```",
        LEGEND,
    ]


def test_a_coach_sees_only_the_reps_assigned_to_them(app, slack, org) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "UCARL")
    assert table_lines(shown(slack)["blocks"]) == ["Sam Rep              25%   41%   46%    100%    0   1 plan"]


def test_an_admin_sees_every_active_rep(app, slack, org) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "UADA", "month")
    message = shown(slack)
    assert texts(message)[0] == "November 2026 team · Ada Admin"
    assert sorted(line.split("  ")[0] for line in table_lines(message["blocks"])) == [
        "Olly Rep",
        "Riley Rep",
        "Sam Rep",
        "Tess Rep",
    ]


def test_a_rep_asking_for_the_team_view_is_refused_politely(app, slack, org, session_factory) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "URILEY")
    message = shown(slack)
    assert (message["text"], message["response_type"], message.get("blocks")) == (NO_TEAM, "ephemeral", None)
    assert NO_TEAM == (
        "/teamperf shows the reps you manage or coach, and coachbot has none for you. "
        "Your own scorecard is one `/myperf` away; if you should have a team, ask your coachbot admin."
    )
    assert audit_rows(session_factory) == []


@pytest.mark.parametrize(
    "named",
    [
        "<@USAM|sam>",
        "<@UNOBODY>",
        "<@UOLLY|olly> quarter",
        "nobody@example.com",
        "<mailto:sam.rep@example.com|sam.rep@example.com>",
    ],
)
def test_a_scorecard_not_yours_to_see_is_refused_without_a_word_about_the_rep(app, slack, org, session_factory, named) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "URILEY", named)
    message = shown(slack)
    assert (message["text"], message["response_type"]) == (NOT_YOUR_REP, "ephemeral")
    assert NOT_YOUR_REP == "You can see the scorecards of the reps you manage or coach only, and I can't show you that one."
    assert audit_rows(session_factory) == []


@pytest.mark.parametrize(
    "named",
    [
        "<@URILEY|riley> month",
        "month <@URILEY>",
        "Riley.Rep@Example.com month",
        "<mailto:riley.rep@example.com|riley.rep@example.com> MONTH",
    ],
)
def test_a_manager_naming_a_rep_gets_their_full_scorecard(app, slack, org, session_factory, now, named) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "UDANA", named)
    message = shown(slack)
    with session_factory() as session:
        riley = session.get(Person, org["riley"])
        card = scorecard_for(
            session, riley, "month", now=now, playbook=load_playbook(), default_timezone=TIMEZONE, default_currency="USD"
        )
    assert message["blocks"] == to_dicts(scorecard_blocks(card, now))
    assert texts(message)[0] == "November 2026 scorecard · Riley Rep"
    assert (
        message["text"]
        == "Riley Rep, November 2026: $40,000 of $32,609 (123%), pace 151%, projected 172%, 1 deal(s) with process gaps."
    )
    assert audit_rows(session_factory) == [(org["dana"], "view_scorecard", org["riley"], {"period": "month"})]


def test_a_rep_named_before_they_ever_used_coachbot_is_linked_by_their_slack_email(app, slack, org, session_factory) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "UMIA", "<@USAM|sam>")
    assert texts(shown(slack))[0] == "Q4 2026 scorecard · Sam Rep"
    assert [call.body["user"] for call in slack.calls_to("users.info")] == ["UMIA", "USAM"]
    with session_factory() as session:
        assert session.scalar(select(Person.slack_user_id).where(Person.id == org["sam"])) == "USAM"


def test_anyone_may_name_themselves_and_that_is_no_look_at_someone_else(app, slack, org, session_factory) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "URILEY", "<@URILEY|riley>")
    assert texts(shown(slack))[0] == "Q4 2026 scorecard · Riley Rep"
    assert audit_rows(session_factory) == []


def test_every_look_at_the_team_is_audited_per_rep(app, slack, org, session_factory) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "UMIA", "week")
    shown(slack)
    assert audit_rows(session_factory) == sorted(
        [(org["mia"], "view_team", org["riley"], {"period": "week"}), (org["mia"], "view_team", org["sam"], {"period": "week"})]
    )


@pytest.mark.parametrize(
    ("hostile", "echoed"),
    [
        ("fortnight", "fortnight"),
        ('"; DROP TABLE deals; --', '"; DROP TABLE deals; --'),
        ("quarter\x00\x07\x1b[31m", "[31m"),
        ("<!channel> *bold* `code`", "&lt;!channel&gt; *bold* `code`"),
        ("x" * 5000, "x" * 39 + "…"),
        ("q\u202euarter", "q uarter"),
        ("week month", "month"),
        ("<@URILEY> <@USAM>", "USAM"),
    ],
)
def test_hostile_text_and_unknown_periods_get_a_polite_answer(app, slack, hostile, echoed) -> None:  # type: ignore[no-untyped-def]
    response = teamperf(app, slack, "UANY", hostile)
    assert response.status == 200
    message = shown(slack)
    assert texts(message)[0] == (
        f"I don't understand “{echoed}”. Try a period (`week`, `month`, `quarter`, `year`), a rep (`@name` or their email), or both."
    )
    assert texts(message)[1].startswith("*/teamperf* shows the reps you manage or coach, privately")
    assert slack.calls_to("users.info") == []


def test_help_explains_the_command(app, slack) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "UANY", " help ")
    message = shown(slack)
    assert message["text"] == "How /teamperf works"
    assert texts(message) == [
        "*/teamperf* shows the reps you manage or coach, privately: each one's number and process side by side, "
        "who needs attention first.\n"
        "• `/teamperf`: this quarter\n"
        "• `/teamperf week`, `month`, `quarter`, `year`: another period\n"
        "• `/teamperf @rep` (or their email), with a period if you like: that rep's full scorecard\n"
        "• `/teamperf help`: this message"
    ]


def test_someone_the_bot_does_not_know_is_told_how_to_be_linked(app, slack) -> None:  # type: ignore[no-untyped-def]
    slack.add_user("USTRANGER", "stranger@example.com")
    teamperf(app, slack, "USTRANGER")
    assert shown(slack)["text"] == "coachbot does not know you yet: ask your admin to add your Slack email to the org file."


def seed_big_team(session_factory, now: dt.datetime, reps: int) -> int:  # type: ignore[no-untyped-def]
    """A manager over `reps` reps (half through a second-level manager), each with a quota and a few deals."""
    with session_scope(session_factory) as session:
        boss = Person(email="boss@example.com", name="Bea Boss", is_manager=True, slack_user_id="UBOSS", timezone=TIMEZONE)
        session.add(boss)
        session.flush()
        middle = Person(email="middle@example.com", name="Mo Middle", is_manager=True, manager_id=boss.id)
        session.add(middle)
        session.flush()
        session.execute(
            insert(Person),
            [{"email": f"rep{n}@example.com", "name": f"Rep {n:03d} Longname-Smith", "is_rep": True,
              "manager_id": boss.id if n % 2 else middle.id, "timezone": TIMEZONE} for n in range(reps)],
        )  # fmt: skip
        rep_ids = session.scalars(select(Person.id).where(Person.is_rep)).all()
        session.execute(
            insert(Quota),
            [{"person_id": rep_id, "period_start": dt.date(2026, 10, 1), "period_end": dt.date(2027, 1, 1),
              "amount": Decimal(100000), "currency": "USD"} for rep_id in rep_ids],
        )  # fmt: skip
        session.execute(
            insert(Deal),
            [{"crm_source": "test", "crm_id": f"{rep_id}-{k}", "owner_id": rep_id, "name": f"Deal {k}",
              "amount": Decimal(10000 * (rep_id % 13)), "currency": "USD", "stage": ("Closed Won", "Demo", "Proposal")[k],
              "is_closed": k == 0, "is_won": k == 0, "created_at": now - dt.timedelta(days=40),
              "close_date": dt.date(2026, 11, 2) if k == 0 else dt.date(2026, 12, 10), "synced_at": now}
             for rep_id in rep_ids for k in range(3)],
        )  # fmt: skip
        return boss.id


def test_a_manager_of_200_reps_gets_one_message_within_slacks_limits(app, slack, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    boss_id = seed_big_team(session_factory, now, 200)
    scan_gaps(session_factory, load_playbook(), now, default_timezone=TIMEZONE)
    teamperf(app, slack, "UBOSS")
    message = shown(slack)
    assert_within_slack_limits(message["blocks"])
    assert message["text"] == "Q4 2026, your team: 200 reps, 200 need attention."
    assert len(table_lines(message["blocks"])) == 200
    assert texts(message)[2].endswith("…and 190 more (see the table).")
    with session_factory() as session:
        audited = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.actor_id == boss_id, AuditEntry.action == "view_team")
        )
    assert audited == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", teamperf_command.TeamperfRequest()),
        ("  Month ", teamperf_command.TeamperfRequest(period="month")),
        ("<@U0RILEY|riley.rep> year", teamperf_command.TeamperfRequest(period="year", slack_user_id="U0RILEY")),
        ("'week' <@W123>", teamperf_command.TeamperfRequest(period="week", slack_user_id="W123")),
        ("<mailto:Riley@Example.com|Riley@Example.com>", teamperf_command.TeamperfRequest(email="riley@example.com")),
        ("quarter riley@example.com", teamperf_command.TeamperfRequest(period="quarter", email="riley@example.com")),
        ("@riley", teamperf_command.TeamperfRequest(not_understood="@riley")),
        ("month help", teamperf_command.TeamperfRequest(help=True)),
    ],
)
def test_the_command_text_is_read_as_one_rep_and_one_period_in_any_order(text, expected) -> None:  # type: ignore[no-untyped-def]
    assert teamperf_command.parse_teamperf_text(text) == expected


def test_the_fallback_text_escapes_what_was_typed_as_the_blocks_do(app, slack) -> None:  # type: ignore[no-untyped-def]
    teamperf(app, slack, "UANY", "<!channel> *bold*")
    assert shown(slack)["text"] == (
        "I don't understand “&lt;!channel&gt; *bold*”. Try a period (week, month, quarter, year), a rep (@name or email), or both."
    )


def snooze_one_of_rileys_gaps(session_factory, org, now, reason: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Snooze Riley's first open gap until Dec 9 with `reason`, as the modal does; (deal name, gap detail)."""
    from bot.coaching.gaps import snooze_gap
    from bot.models import ProcessGap

    with session_scope(session_factory) as session:
        gap, deal_name = session.execute(
            select(ProcessGap, Deal.name).join(Deal, Deal.id == ProcessGap.deal_id)
            .where(Deal.owner_id == org["riley"], ProcessGap.resolved_at.is_(None)).order_by(ProcessGap.id).limit(1)
        ).one()  # fmt: skip
        snooze_gap(session, gap.id, dt.date(2026, 12, 9), reason, now, by=session.get(Person, org["riley"]))
        return deal_name, gap.detail


def test_a_manager_naming_a_rep_sees_their_active_snoozes_with_the_reps_reason_and_date(
    app, slack, org, session_factory, now
) -> None:  # type: ignore[no-untyped-def]
    deal_name, detail = snooze_one_of_rileys_gaps(session_factory, org, now, "Buyer <on leave> until Dec 8")
    teamperf(app, slack, "UMIA", "<@URILEY>")
    message = shown(slack)
    assert message["blocks"][-1] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": f"*Snoozed by Riley* (1)\n• {deal_name}, {detail} · until Dec 9: “Buyer &lt;on leave&gt; until Dec 8”",
        },
    }
    assert message["text"].endswith(" 1 gap snoozed.")


def test_the_managers_home_shows_each_reps_snoozes_with_reason_and_date_from_the_same_read(org, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    from bot.blocks.home import home_blocks
    from bot.coaching.gaps import snoozes_of, team_snoozes
    from bot.coaching.home import home_for

    deal_name, detail = snooze_one_of_rileys_gaps(session_factory, org, now, "Waiting on legal")
    with session_factory() as session:
        mia = session.get_one(Person, org["mia"])
        data = home_for(session, mia, now, load_playbook(), default_timezone=TIMEZONE, default_currency="USD")
        # The Home, /teamperf @rep and the digest read the one model: the same rows.
        assert (
            list(data.snoozes)
            == snoozes_of(session, [org["riley"]], dt.date(2026, 11, 25))
            == team_snoozes(session, mia.id, dt.date(2026, 11, 25))
        )
    blocks = to_dicts(home_blocks(data))
    snoozed = [
        block["text"]["text"] for block in blocks if block.get("text", {}).get("text", "").startswith("*Snoozed by your reps*")
    ]
    assert snoozed == [f"*Snoozed by your reps* (1)\n• *Riley Rep* · {deal_name}, {detail} · until Dec 9: “Waiting on legal”"]
