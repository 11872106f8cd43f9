"""`/coach` and its form through the Bolt app: signed requests in, the stand-in Slack records what
was shown and opened, the database holds what was done and the audit log who did it.

The team (tests/coaching/test_goals.py): Vera manages Mia, who manages Riley; Carl coaches Riley;
Olly is a coach with nobody assigned; Ada, added here, is the admin.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from decimal import Decimal
from typing import Any

import pytest
from slack_bolt import BoltRequest, BoltResponse
from sqlalchemy import select

from bot.app import create_app
from bot.blocks import to_dicts
from bot.blocks.coach import coach_modal
from bot.blocks.coaching import action_assigned_message
from bot.database import session_scope
from bot.models import Action, AuditEntry, Goal, OutboxMessage, Person, RecoveryPlan
from bot.settings import Settings
from bot.slack_ids import (
    ACTION_BUTTONS_BLOCK,
    ACTION_DONE,
    COACH_DUE_BLOCK,
    COACH_DUE_INPUT,
    COACH_KIND_BLOCK,
    COACH_KIND_INPUT,
    COACH_LINK_BLOCK,
    COACH_LINK_INPUT,
    COACH_PERSON_BLOCK,
    COACH_PERSON_INPUT,
    COACH_TEXT_BLOCK,
    COACH_TEXT_INPUT,
    COACH_VIEW,
    PLAN_OPEN_VIEW,
)
from tests.coaching.test_goals import Team, deal, seed_people
from tests.support.personas import MIA, OUTSIDER, RILEY
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body

RILEY_MENTION = "<@URILEY|riley>"


@pytest.fixture
def app(slack, session_factory, database_url, now):  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url, timezone="America/New_York",
    )  # type: ignore[call-arg]  # fmt: skip
    app = create_app(settings, session_factory=session_factory, clock=lambda: now)
    # The lead registers these in handlers/ once /coach is in the manifest.
    return app


@pytest.fixture
def team(session_factory, slack) -> Team:  # type: ignore[no-untyped-def]
    team = seed_people(session_factory)
    with session_scope(session_factory) as session:
        session.add(
            Person(
                email="ada.admin@example.com", name="Ada Admin", is_admin=True, slack_user_id="UADA", timezone="America/New_York"
            )
        )
    for user_id, email in (("URILEY", RILEY), ("UMIA", MIA), ("UCARL", "carl.coach@example.com"), ("UOLLY", OUTSIDER),
                           ("UVERA", "vera.vp@example.com"), ("UADA", "ada.admin@example.com")):  # fmt: skip
        slack.add_user(user_id, email)
    return team


def coach(app, slack, user_id: str, text: str = "") -> BoltResponse:  # type: ignore[no-untyped-def]
    body = slash_command_body("/coach", text, user_id, slack.response_url())
    return app.dispatch(BoltRequest(body=body, headers=sign(body)))


def reply(slack, count: int = 1) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return slack.wait_for("response", count)[-1].body


def texts(message: dict[str, Any]) -> list[str]:
    """Every piece of text in a message's blocks, in order."""
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found.extend(element["text"] for element in block.get("elements", []))
    return found


def submit(app, user_id: str, values: dict[str, Any]) -> BoltResponse:  # type: ignore[no-untyped-def]
    view = {"type": "modal", "callback_id": COACH_VIEW, "private_metadata": "", "state": {"values": values}}
    payload = {"type": "view_submission", "user": {"id": user_id}, "team": {"id": "T0001"}, "api_app_id": "A0001", "view": view}
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return app.dispatch(BoltRequest(body=body, headers=sign(body)))


def form(
    *,
    kind: str = "action",
    user: str | None = "URILEY",
    text: str = "Book a QBR with Globex",
    due: str | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    return {
        COACH_KIND_BLOCK: {COACH_KIND_INPUT: {"type": "radio_buttons", "selected_option": {"value": kind}}},
        COACH_PERSON_BLOCK: {COACH_PERSON_INPUT: {"type": "users_select", "selected_user": user}},
        COACH_TEXT_BLOCK: {COACH_TEXT_INPUT: {"type": "plain_text_input", "value": text}},
        COACH_DUE_BLOCK: {COACH_DUE_INPUT: {"type": "datepicker", "selected_date": due}},
        COACH_LINK_BLOCK: {COACH_LINK_INPUT: {"type": "plain_text_input", "value": link}},
    }


def actions_in_db(session_factory) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        columns = (Action.person_id, Action.assigned_by_id, Action.text, Action.due_date, Action.deal_id, Action.status)
        return [tuple(row) for row in session.execute(select(*columns).order_by(Action.id))]


def action_ids(session_factory) -> list[int]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return list(session.scalars(select(Action.id).order_by(Action.id)))


def audit_log(session_factory) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail).order_by(AuditEntry.id)
            )
        ]


def outbox(session_factory) -> list[tuple[str, str, str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return [
            (row.dedupe_key, row.recipient, row.kind, row.payload)
            for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


def set_timezone(session_factory, person_id: int, timezone: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        session.get(Person, person_id).timezone = timezone  # type: ignore[union-attr]


def ada_id(session_factory) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(Person.id).where(Person.slack_user_id == "UADA"))  # type: ignore[return-value]


# help ---------------------------------------------------------------------------------------


def test_help_lists_every_subcommand_privately(app, slack) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UANY", "help")
    message = reply(slack)
    assert (message["response_type"], message["text"]) == ("ephemeral", "How /coach works")
    assert texts(message) == [
        (
            "*/coach* assigns actions and sets development goals for the reps you coach, and opens recovery plans for the "
            "reps you manage. Replies are private; a rep is told in a direct message.\n"
            "• `/coach`: a form for an action or a goal\n"
            "• `/coach assign @rep what to do [by date]`: an action, sent to the rep with a Done button\n"
            "• `/coach goal @rep competency: what good looks like [by date]`: a development goal\n"
            "• `/coach plan @rep`: a recovery plan for a rep you manage\n"
            "• `/coach list [@rep]`: open actions and goals of a rep, or of everyone you coach\n"
            "• `/coach done 12`: mark action 12 done\n"
            "• `/coach 1on1 @rep`: a 1:1 agenda for a rep you manage or coach, only you see it; send the rep their copy\n"
            "• `/coach help`: this message"
        ),
        (
            "Name a rep by @mention or email. Dates are read in your time zone: `today`, `tomorrow`, `friday` (the next one, "
            "never today), `next week` (Monday), `in 3 days`, `end of month`, `2026-12-01`, `Dec 5`, `5 Dec`, `12/5` (month first)."
        ),
        (
            "Admins: `/coach admin role @person add|remove rep|manager|coach|admin`, `/coach admin coach @coach @rep`, "
            "`/coach admin uncoach @coach @rep`."
        ),
    ]
    assert slack.calls_to("users.info") == []


# assign -------------------------------------------------------------------------------------


def test_a_manager_assigns_an_action_and_the_rep_is_sent_it_with_a_done_button(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    assert coach(app, slack, "UMIA", f"assign {RILEY_MENTION} Book a QBR with Globex by friday").status == 200
    message = reply(slack)
    [action_id] = action_ids(session_factory)
    assert message["response_type"] == "ephemeral"
    assert message["text"] == f"Action #{action_id} for Riley Rep: Book a QBR with Globex (due Fri, Nov 27)"
    assert texts(message) == [
        f":white_check_mark: Action `#{action_id}` for *Riley Rep*:\n>Book a QBR with Globex",
        "Due *Fri, Nov 27* · Riley gets it in a direct message, with a Done button.",
    ]
    assert actions_in_db(session_factory) == [
        (team.riley, team.mia, "Book a QBR with Globex", dt.date(2026, 11, 27), None, "open")
    ]
    expected = action_assigned_message(
        action_id=action_id, text="Book a QBR with Globex", assigned_by="Mia Manager", due_date=dt.date(2026, 11, 27)
    )
    [(key, recipient, kind, payload)] = outbox(session_factory)
    assert (key, recipient, kind) == (f"action:{action_id}", "URILEY", "action_assigned")
    assert payload == {"text": expected.text, "blocks": to_dicts(expected.blocks)}
    assert payload["blocks"][-1]["block_id"] == ACTION_BUTTONS_BLOCK
    assert [(e["action_id"], e["value"]) for e in payload["blocks"][-1]["elements"]] == [(ACTION_DONE, str(action_id))]
    assert audit_log(session_factory) == [(team.mia, "assign_action", team.riley, {"action_id": action_id})]


def test_by_friday_is_the_next_friday_on_the_coachs_calendar(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    # 15:00 UTC on Wednesday is already 05:00 on Thursday on Kiritimati: "thursday" is next week's.
    set_timezone(session_factory, team.carl, "Pacific/Kiritimati")
    coach(app, slack, "UCARL", f"assign {RILEY_MENTION} Send the Globex recap by thursday")
    reply(slack)
    assert actions_in_db(session_factory) == [
        (team.riley, team.carl, "Send the Globex recap", dt.date(2026, 12, 3), None, "open")
    ]


def test_an_action_without_by_has_no_due_date_and_by_inside_the_text_stays(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UCARL", f"assign {RILEY_MENTION} Drop by the Globex office BY Dec 5")
    reply(slack)
    coach(app, slack, "UCARL", f"assign {RILEY_MENTION} Update next steps")
    assert texts(reply(slack, 2))[1] == "No due date · Riley gets it in a direct message, with a Done button."
    assert [row[2:4] for row in actions_in_db(session_factory)] == [
        ("Drop by the Globex office", dt.date(2026, 12, 5)),
        ("Update next steps", None),
    ]


def test_a_rep_trying_to_assign_is_refused(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "URILEY", f"assign {RILEY_MENTION} Take Friday off by friday")
    message = reply(slack)
    assert (message["response_type"], message["text"]) == (
        "ephemeral",
        "Only Riley Rep's managers and assigned coaches can assign them actions.",
    )
    assert actions_in_db(session_factory) == [] and outbox(session_factory) == [] and audit_log(session_factory) == []


def test_a_coach_assigning_to_a_rep_not_assigned_to_them_is_refused(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UOLLY", f"assign {RILEY_MENTION} Call Globex")
    assert reply(slack)["text"] == "Only Riley Rep's managers and assigned coaches can assign them actions."
    assert actions_in_db(session_factory) == []


def test_a_due_date_in_the_past_or_not_a_date_is_explained_and_nothing_is_sent(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UMIA", f"assign {RILEY_MENTION} Call Globex by Nov 24")
    assert reply(slack)["text"] == "Nov 24 has passed where you are; pick today or later."
    coach(app, slack, "UMIA", f"assign {RILEY_MENTION} Stop by the office")
    assert reply(slack, 2)["text"] == (
        "I couldn't read “the office” as a date. Try today, tomorrow, friday, next week, in 3 days, end of month, "
        "2026-12-01, Dec 5 or 12/5. I read what follows the last “by” as the due date; to keep “by” in the text, "
        "end it with a date, or use the form (/coach)."
    )
    coach(app, slack, "UMIA", f"assign {RILEY_MENTION}")
    assert reply(slack, 3)["text"] == "Say what to do: `/coach assign @rep what to do [by date]`."
    assert actions_in_db(session_factory) == [] and outbox(session_factory) == []


def test_a_rep_can_be_named_by_email(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UMIA", f"assign <mailto:{RILEY}|{RILEY}> Call Globex by tomorrow")
    reply(slack)
    coach(app, slack, "UMIA", f"assign {RILEY.upper()} Call Initech")
    reply(slack, 2)
    assert [row[2:4] for row in actions_in_db(session_factory)] == [
        ("Call Globex", dt.date(2026, 11, 26)),
        ("Call Initech", None),
    ]


def test_a_mentioned_rep_not_yet_linked_is_linked_by_their_slack_email(app, slack, session_factory) -> None:  # type: ignore[no-untyped-def]
    team = seed_people(session_factory, riley_slack=None)
    slack.add_user("UMIA", MIA)
    slack.add_user("URILEY", RILEY, tz="America/Chicago")
    coach(app, slack, "UMIA", f"assign {RILEY_MENTION} Call Globex")
    assert texts(reply(slack))[1] == "No due date · Riley gets it in a direct message, with a Done button."
    with session_factory() as session:
        riley = session.get(Person, team.riley)
        assert (riley.slack_user_id, riley.timezone) == ("URILEY", "America/Chicago")  # type: ignore[union-attr]
    assert [recipient for _, recipient, _, _ in outbox(session_factory)] == ["URILEY"]


def test_someone_not_in_the_org_is_named_in_the_refusal(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    slack.add_user("UNEW", "new.hire@example.com")
    coach(app, slack, "UMIA", "assign <@UNEW|newbie> Shadow Riley")
    assert reply(slack)["text"] == "<@UNEW> is not in coachbot's org yet; an admin adds people with `coachbot org import`."
    coach(app, slack, "UMIA", "assign nobody@example.com Shadow Riley")
    assert reply(slack, 2)["text"] == "Nobody in coachbot's org has the email nobody@example.com."
    coach(app, slack, "UMIA", "assign @riley Shadow Riley")
    assert (
        reply(slack, 3)["text"]
        == "I couldn't tell who “@riley” is: mention them (@name, picked from Slack's list) or give their email."
    )


def test_hostile_action_text_reaches_the_rep_as_plain_words(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UMIA", f"assign {RILEY_MENTION} <!channel> read &lt;script&gt; \x1b[31m\u202e now")
    reply(slack)
    assert [row[2] for row in actions_in_db(session_factory)] == ["@channel read <script> [31m now"]
    [(_, _, _, payload)] = outbox(session_factory)
    assert payload["blocks"][0]["text"]["text"] == ":memo: *Mia Manager* asked you to:\n>@channel read &lt;script&gt; [31m now"
    assert "<!channel>" not in json.dumps(payload)


# goal ---------------------------------------------------------------------------------------


def test_a_coach_sets_a_goal_and_the_rep_is_told(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UCARL", f"goal {RILEY_MENTION} Discovery: three pain questions on every first call by Dec 15")
    message = reply(slack)
    with session_factory() as session:
        [goal] = session.scalars(select(Goal)).all()
        row = (goal.person_id, goal.set_by_id, goal.competency, goal.description, goal.due_date, goal.status)
    assert row == (team.riley, team.carl, "Discovery", "three pain questions on every first call", dt.date(2026, 12, 15), "open")
    assert message["text"] == f"Goal {goal.id} for Riley Rep: Discovery (due Tue, Dec 15)"
    assert texts(message) == [
        f":dart: Goal `goal {goal.id}` for *Riley Rep*: *Discovery*\n>three pain questions on every first call",
        "Due *Tue, Dec 15* · Riley gets it in a direct message.",
    ]
    [(key, recipient, kind, payload)] = outbox(session_factory)
    assert (key, recipient, kind) == (f"goal_set:{goal.id}", "URILEY", "goal_set")
    assert payload["text"] == "Carl Coach set you a development goal: Discovery (due Tue, Dec 15)"
    assert texts(payload) == [
        ":dart: *Carl Coach* set you a development goal: *Discovery*\n>three pain questions on every first call",
        "Due *Tue, Dec 15* · Your progress shows on /myperf.",
    ]
    assert audit_log(session_factory) == [(team.carl, "set_goal", team.riley, {"goal_id": goal.id})]


def test_a_rep_setting_their_own_goal_is_refused(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "URILEY", f"goal {RILEY_MENTION} Closing")
    assert reply(slack)["text"] == "Only Riley Rep's managers and assigned coaches can set their goals."


# plan ---------------------------------------------------------------------------------------


def test_plan_proposes_a_plan_for_the_quarter_and_opens_its_form(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        session.add(deal(team.riley, "P1", "20000"))  # Proposal: the playbook expects 60% of it
    assert coach(app, slack, "UMIA", f"plan {RILEY_MENTION}").status == 200
    [opened] = slack.wait_for("views.open")
    with session_factory() as session:
        [plan] = session.scalars(select(RecoveryPlan)).all()
        row = (
            plan.person_id,
            plan.manager_id,
            plan.period_start,
            plan.period_end,
            plan.gap_amount,
            plan.pipeline_to_add,
            plan.status,
        )
    assert row == (
        team.riley,
        team.mia,
        dt.date(2026, 10, 1),
        dt.date(2026, 12, 31),
        Decimal("100000.00"),
        Decimal("146666.67"),
        "proposed",
    )
    assert opened.body["trigger_id"] == "1.2.3"
    assert (opened.body["view"]["callback_id"], opened.body["view"]["private_metadata"]) == (PLAN_OPEN_VIEW, str(plan.id))
    assert opened.body["view"]["blocks"][0]["text"]["text"].startswith("Agree a few weekly commitments with *Riley Rep*")
    assert audit_log(session_factory) == [(team.mia, "propose_plan", team.riley, {"plan_id": plan.id})]
    assert slack.calls_to("response") == []


def test_plan_takes_up_a_proposed_plan_and_explains_an_open_one(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UVERA", f"plan {RILEY_MENTION}")  # Vera, up the chain, may too
    slack.wait_for("views.open")
    coach(app, slack, "UMIA", f"plan {RILEY_MENTION}")
    first, second = slack.wait_for("views.open", 2)
    assert first.body["view"]["private_metadata"] == second.body["view"]["private_metadata"]
    with session_scope(session_factory) as session:
        session.scalars(select(RecoveryPlan)).one().status = "open"
    coach(app, slack, "UMIA", f"plan {RILEY_MENTION}")
    assert reply(slack)["text"] == "Riley Rep's recovery plan for Q4 2026 is already open; its check-ins tell you how it goes."
    assert len(slack.calls_to("views.open")) == 2


def test_plan_is_for_the_reps_managers_only(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UCARL", f"plan {RILEY_MENTION}")
    assert reply(slack)["text"] == "Only Riley Rep's managers can open a recovery plan for them."
    with session_factory() as session:
        assert session.scalars(select(RecoveryPlan)).all() == []
    assert slack.calls_to("views.open") == []


# list and done ------------------------------------------------------------------------------


def seed_work(session_factory, team, now) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Riley: an overdue action, one due Friday, one done; a goal. Returns (overdue, friday, goal) ids."""
    with session_scope(session_factory) as session:
        rows = [
            Action(person_id=team.riley, assigned_by_id=team.mia, text="Send the <Acme> order form", due_date=dt.date(2026, 11, 24), status="open", created_at=now),
            Action(person_id=team.riley, assigned_by_id=team.carl, text="Book a QBR", due_date=dt.date(2026, 11, 27), status="open", created_at=now),
            Action(person_id=team.riley, assigned_by_id=team.carl, text="Old news", due_date=None, status="done", created_at=now),
            Goal(person_id=team.riley, set_by_id=team.carl, competency="Discovery", description="Three pain questions", progress=0.4, status="open", created_at=now),
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        return rows[0].id, rows[1].id, rows[3].id


def test_list_shows_the_open_actions_and_goals_of_everyone_you_coach(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    overdue, friday, goal = seed_work(session_factory, team, now)
    coach(app, slack, "UCARL", "list")
    message = reply(slack)
    assert message["text"] == "Open actions and goals of your reps: 2 open action(s), 1 open goal(s)."
    assert texts(message) == [
        "*Open actions and goals of your reps*",
        (
            f"*Riley Rep*\nActions:\n• `#{overdue}` Send the &lt;Acme&gt; order form · due Tue, Nov 24 · *overdue*\n"
            f"• `#{friday}` Book a QBR · due Fri, Nov 27\nGoals:\n• `goal {goal}` Discovery · 40% · no due date"
        ),
        "Mark an action done with `/coach done <number>`.",
    ]
    assert audit_log(session_factory) == [(team.carl, "view_coaching", team.riley, {})]


def test_list_of_one_rep_needs_sight_of_them(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    seed_work(session_factory, team, now)
    coach(app, slack, "UVERA", f"list {RILEY_MENTION}")
    assert texts(reply(slack))[0] == "*Open actions and goals of Riley Rep*"
    coach(app, slack, "UOLLY", f"list {RILEY_MENTION}")
    assert reply(slack, 2)["text"] == "Only Riley Rep, their managers and their coaches can see their actions and goals."
    assert audit_log(session_factory) == [(team.vera, "view_coaching", team.riley, {})]


def test_a_rep_lists_their_own_work_unaudited(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    seed_work(session_factory, team, now)
    coach(app, slack, "URILEY", "list")
    assert texts(reply(slack))[0] == "*Your open actions and goals*"
    coach(app, slack, "UOLLY", "list")
    assert texts(reply(slack, 2))[:2] == ["*Your open actions and goals*", "*Olly Outsider*\nNothing open."]
    assert audit_log(session_factory) == []


def test_done_marks_the_action_done_and_tells_whoever_assigned_it(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    _, friday, _ = seed_work(session_factory, team, now)
    coach(app, slack, "URILEY", f"done #{friday}")
    assert reply(slack)["text"] == f":white_check_mark: Marked done: “Book a QBR” (Riley Rep's action #{friday})."
    with session_factory() as session:
        assert session.get(Action, friday).status == "done"  # type: ignore[union-attr]
    assert [(key, recipient) for key, recipient, _, _ in outbox(session_factory)] == [(f"action_done:{friday}", "UCARL")]
    coach(app, slack, "URILEY", f"done {friday}")
    assert reply(slack, 2)["text"] == f"Nothing to do: “Book a QBR” (Riley Rep's action #{friday}) is already done."
    assert audit_log(session_factory) == [(team.riley, "complete_action", team.riley, {"action_id": friday})]


def test_done_is_refused_to_outsiders_and_explains_a_missing_number(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    _, friday, _ = seed_work(session_factory, team, now)
    coach(app, slack, "UOLLY", f"done {friday}")
    assert reply(slack)["text"] == "Only Riley Rep, whoever assigned it and Riley Rep's managers can mark this action done."
    coach(app, slack, "URILEY", "done the QBR")
    assert reply(slack, 2)["text"] == "Give the action's number: `/coach done 12`. `/coach list` shows the numbers."
    coach(app, slack, "URILEY", "done 999999")
    assert reply(slack, 3)["text"] == "That action no longer exists."


# admin --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "admin role <@URILEY|riley> add admin",
        "admin coach <@UOLLY|olly> <@URILEY|riley>",
        "admin uncoach <@UCARL|carl> <@URILEY|riley>",
    ],
)
def test_admin_commands_are_refused_to_non_admins(app, slack, session_factory, team, text) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UMIA", text)
    assert reply(slack)["text"] == "Only coachbot admins can change roles and coach assignments."
    with session_factory() as session:
        assert session.get(Person, team.riley).roles == ("rep",)  # type: ignore[union-attr]
    assert audit_log(session_factory) == []


def test_an_admin_changes_a_role_and_it_is_audited(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UADA", "admin role <@URILEY|riley> add coach")
    message = reply(slack)
    assert message["text"] == "Riley Rep now has the coach role."
    assert texts(message) == [
        ":white_check_mark: Riley Rep now has the coach role.",
        "Written to the audit log. A later `coachbot org import` of a file that lists Riley sets this from the file again.",
    ]
    coach(app, slack, "UADA", "admin role <@URILEY|riley> add coach")
    assert reply(slack, 2)["text"] == "Riley Rep already has the coach role. Nothing changed."
    coach(app, slack, "UADA", "admin role <@UCARL|carl> remove coach")
    assert (
        reply(slack, 3)["text"] == "Carl Coach no longer has the coach role. The 1 coach assignment(s) that went with it ended."
    )
    coach(app, slack, "UADA", "admin role <@URILEY|riley> add boss")
    assert reply(slack, 4)["text"] == "There is no role “boss”. The roles are rep, manager, coach, admin."
    ada = ada_id(session_factory)
    assert audit_log(session_factory) == [
        (ada, "set_role", team.riley, {"role": "coach", "granted": True}),
        (ada, "set_role", team.carl, {"role": "coach", "granted": False, "coach_assignments_ended": 1}),
    ]


def test_an_admin_assigns_and_unassigns_coaches_audited(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UADA", "admin coach <@UOLLY|olly> <@URILEY|riley>")
    assert reply(slack)["text"] == "Olly Outsider now coaches Riley Rep."
    coach(app, slack, "UADA", "admin uncoach <@UCARL|carl> <@URILEY|riley>")
    assert reply(slack, 2)["text"] == "Carl Coach no longer coaches Riley Rep."
    coach(app, slack, "UADA", "admin uncoach <@UCARL|carl> <@URILEY|riley>")
    assert reply(slack, 3)["text"] == "Carl Coach was not coaching Riley Rep. Nothing changed."
    coach(app, slack, "UADA", "admin promote everyone")
    assert reply(slack, 4)["text"] == (
        "Admin commands: `/coach admin role @person add|remove rep|manager|coach|admin`, "
        "`/coach admin coach @coach @rep` or `/coach admin uncoach @coach @rep`."
    )
    ada = ada_id(session_factory)
    assert audit_log(session_factory) == [
        (ada, "assign_coach", team.riley, {"coach_id": team.olly}),
        (ada, "unassign_coach", team.riley, {"coach_id": team.carl}),
    ]
    coach(app, slack, "UOLLY", "assign <@URILEY|riley> Call Globex")  # the new coach may now coach Riley
    assert reply(slack, 5)["text"].startswith("Action #")


# the form -----------------------------------------------------------------------------------


def test_the_bare_command_opens_the_form(app, slack, team) -> None:  # type: ignore[no-untyped-def]
    assert coach(app, slack, "UCARL").status == 200
    [opened] = slack.wait_for("views.open")
    assert (opened.body["trigger_id"], opened.body["view"]) == ("1.2.3", coach_modal().to_dict())
    assert [block["block_id"] for block in opened.body["view"]["blocks"]] == [
        COACH_KIND_BLOCK, COACH_PERSON_BLOCK, COACH_TEXT_BLOCK, COACH_DUE_BLOCK, COACH_LINK_BLOCK, "coach_measure", "coach_measured_on",
        "coach_target",
    ]  # fmt: skip
    assert opened.body["view"]["callback_id"] == COACH_VIEW


def test_the_form_is_not_opened_for_someone_who_coaches_nobody(app, slack, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "URILEY")
    assert reply(slack)["text"] == (
        "You don't coach anyone in coachbot yet: only a rep's managers and assigned coaches can assign them actions "
        "or set their goals. `/coach list` shows your own."
    )
    assert slack.calls_to("views.open") == []


def test_a_form_submission_creates_the_action_and_queues_the_reps_message_with_a_done_button(
    app, slack, session_factory, team
) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        globex = deal(team.riley, "O2", name="Globex expansion", crm_url="https://crm.example.com/deals/O2")
        session.add(globex)
        session.flush()
        globex_id = globex.id
    response = submit(app, "UCARL", form(due="2026-11-27", link="globex EXPANSION"))
    assert response.status == 200
    [action_id] = action_ids(session_factory)
    answer = json.loads(response.body)
    assert answer["response_action"] == "update"
    assert (answer["view"]["title"]["text"], answer["view"]["close"]["text"]) == ("Coach", "Close")
    assert texts(answer["view"]) == [
        f":white_check_mark: Action `#{action_id}` for *Riley Rep*:\n>Book a QBR with Globex",
        "Due *Fri, Nov 27* · Deal: Globex expansion · Riley gets it in a direct message, with a Done button.",
    ]
    assert actions_in_db(session_factory) == [
        (team.riley, team.carl, "Book a QBR with Globex", dt.date(2026, 11, 27), globex_id, "open")
    ]
    expected = action_assigned_message(
        action_id=action_id, text="Book a QBR with Globex", assigned_by="Carl Coach", due_date=dt.date(2026, 11, 27),
        deal_name="Globex expansion", deal_url="https://crm.example.com/deals/O2",
    )  # fmt: skip
    [(key, recipient, kind, payload)] = outbox(session_factory)
    assert (key, recipient, kind, payload) == (
        f"action:{action_id}",
        "URILEY",
        "action_assigned",
        {"text": expected.text, "blocks": to_dicts(expected.blocks)},
    )
    assert payload["blocks"][-1]["elements"][0]["action_id"] == ACTION_DONE
    assert audit_log(session_factory) == [(team.carl, "assign_action", team.riley, {"action_id": action_id})]


def test_a_form_with_a_past_due_date_returns_the_field_error(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    # Nov 25 is still today in UTC and in New York, but already yesterday where Carl is.
    set_timezone(session_factory, team.carl, "Pacific/Kiritimati")
    response = submit(app, "UCARL", form(due="2026-11-25"))
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {COACH_DUE_BLOCK: "Nov 25 has passed where you are; pick today or later."},
    }
    assert actions_in_db(session_factory) == [] and outbox(session_factory) == []


def test_a_form_due_date_past_where_the_rep_is_returns_the_field_error(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    set_timezone(session_factory, team.carl, "Pacific/Honolulu")  # 05:00 Wednesday there, Thursday never came
    set_timezone(session_factory, team.riley, "Pacific/Kiritimati")
    response = submit(app, "UCARL", form(due="2026-11-25"))
    assert json.loads(response.body)["errors"] == {COACH_DUE_BLOCK: "Nov 25 has passed where Riley Rep is; pick today or later."}


def test_a_form_reports_every_problem_beside_its_field(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    response = submit(app, "UOLLY", form(text="   ", due="2026-11-01", link="Initech"))
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {
            COACH_TEXT_BLOCK: "Please fill in the action.",
            COACH_DUE_BLOCK: "Nov 1 has passed where you are; pick today or later.",
            COACH_PERSON_BLOCK: "Riley Rep is not a rep you coach: only their managers and assigned coaches can.",
        },
    }
    response = submit(app, "UCARL", form(link="goal 999"))
    assert json.loads(response.body)["errors"] == {COACH_LINK_BLOCK: "Riley Rep has no open goal 999."}
    response = submit(app, "UCARL", form(link="Initech"))
    assert json.loads(response.body)["errors"] == {
        COACH_LINK_BLOCK: "None of Riley Rep's open deals has the CRM id or name “Initech”."
    }
    response = submit(app, "UCARL", form(user="UNOBODY"))
    assert json.loads(response.body)["errors"] == {
        COACH_PERSON_BLOCK: "That person is not in coachbot's org yet; pick a rep you coach."
    }
    response = submit(app, "UVERA", form(user="UMIA"))
    assert json.loads(response.body)["errors"] == {COACH_PERSON_BLOCK: "Mia Manager is not an active rep in coachbot's org."}
    assert actions_in_db(session_factory) == [] and outbox(session_factory) == []


def test_a_goal_form_submission_sets_the_goal_and_tells_the_rep(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    response = submit(
        app, "UMIA", form(kind="goal", text="Multi-threading: two contacts on every deal over $20k", due="2026-12-31")
    )
    answer = json.loads(response.body)
    with session_factory() as session:
        [goal] = session.scalars(select(Goal)).all()
        assert (goal.competency, goal.description, goal.due_date) == (
            "Multi-threading",
            "two contacts on every deal over $20k",
            dt.date(2026, 12, 31),
        )
    assert texts(answer["view"])[1] == "Due *Thu, Dec 31* · Riley gets it in a direct message."
    assert [(key, kind) for key, _, kind, _ in outbox(session_factory)] == [(f"goal_set:{goal.id}", "goal_set")]
    response = submit(app, "UMIA", form(kind="goal", text="Closing", link="Globex"))
    assert json.loads(response.body)["errors"] == {
        COACH_LINK_BLOCK: "A goal stands on its own; leave this empty, or tie an action to the goal instead."
    }


def test_an_action_can_be_tied_to_one_of_the_reps_goals(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    _, _, goal = seed_work(session_factory, team, now)
    answer = json.loads(submit(app, "UCARL", form(text="Role-play a discovery call", link=f"Goal #{goal}")).body)
    assert (
        texts(answer["view"])[1]
        == "No due date · For the goal: Discovery · Riley gets it in a direct message, with a Done button."
    )
    with session_factory() as session:
        assert session.scalars(select(Action.goal_id).where(Action.text == "Role-play a discovery call")).one() == goal


# hostile and unknown ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ('"; DROP TABLE deals; --', '";'),
        ("<!channel> *bold*", "@channel"),
        ("x" * 5000, "x" * 39 + "…"),
        ("assign\u202e", "assign"),  # the direction mark is dropped, the subcommand stands
        ("&lt;script&gt;", "&lt;script&gt;"),
    ],
)
def test_hostile_text_gets_a_polite_answer(app, slack, session_factory, team, hostile, shown) -> None:  # type: ignore[no-untyped-def]
    response = coach(app, slack, "UMIA", hostile)
    message = reply(slack)
    if hostile.startswith("assign"):
        assert message["text"] == "Say who: `/coach assign @rep what to do [by date]`."
        return
    assert response.status == 200
    assert message["text"] == f"I don't know “{shown}”. Try /coach help."
    assert texts(message)[0] == f"I don't know “{shown}”. Here is what /coach does:"
    assert "<!channel>" not in json.dumps(message)
    assert actions_in_db(session_factory) == [] and audit_log(session_factory) == []


def test_someone_coachbot_does_not_know_is_told_how_to_be_linked(app, slack, team) -> None:  # type: ignore[no-untyped-def]
    slack.add_user("UNEW", "new.hire@example.com")
    coach(app, slack, "UNEW", f"assign {RILEY_MENTION} Call Globex")
    assert reply(slack)["text"] == "coachbot does not know you yet: ask your admin to add your Slack email to the org file."
