"""Goals measured from CRM evidence, set from Slack: a measure, what it is measured on and a target;
progress moves with each gap scan; the goal closes achieved or missed, and the rep and coach are told."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.coaching.playbook import load_playbook
from bot.database import session_scope
from bot.models import AuditEntry, Deal, Goal
from bot.settings import Settings
from jobs import gap_scan
from jobs.job import JobContext
from tests.coaching.test_goals import deal, outbox
from tests.handlers.test_coach import RILEY_MENTION, app, coach, form, reply, submit, team, texts

__all__ = ["app", "team"]


def goals_in_db(session_factory) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    with session_factory() as session:
        return [
            tuple(row) for row in session.execute(select(Goal.measure, Goal.measure_arg, Goal.target, Goal.progress, Goal.status))
        ]


def test_a_goal_from_the_command_takes_a_measure_what_it_is_measured_on_and_a_target(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        session.add_all(
            [deal(team.riley, "A1", "20000", product_line="Analytics"), deal(team.riley, "C1", "90000", product_line="Core")]
        )
    coach(
        app,
        slack,
        "UCARL",
        f"goal {RILEY_MENTION} Cross-sell: build Analytics pipeline measure pipeline_in_line:Analytics 50,000 by Dec 31",
    )
    message = reply(slack)
    assert goals_in_db(session_factory) == [("pipeline_in_line", "Analytics", 50000.0, 0.4, "open")]
    assert texts(message)[0].endswith("Measured from the CRM: open pipeline in Analytics, target 50,000; *40%* of the way today.")
    [(_, recipient, kind, payload)] = outbox(session_factory)
    assert (recipient, kind) == ("URILEY", "goal_set")
    assert "Measured from the CRM: open pipeline in Analytics, target 50,000." in payload["blocks"][0]["text"]["text"]
    with session_factory() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "set_goal")).all()
    assert entry.detail == {
        "goal_id": entry.detail["goal_id"],
        "measure": "pipeline_in_line",
        "target": 50000.0,
        "on": "Analytics",
    }


def test_a_measure_the_command_cannot_use_is_explained(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UCARL", f"goal {RILEY_MENTION} Hygiene: fix old gaps measure old_open_gaps 0")
    assert (
        reply(slack)["text"]
        == "old_open_gaps needs a number of days, 1 to 365: old_open_gaps:14 counts gaps open more than 14 days."
    )
    coach(app, slack, "UCARL", f"goal {RILEY_MENTION} Closing: win more measure win_rate 130%")
    assert reply(slack, 2)["text"] == "The target of win_rate is a share: a number above 0 and at most 1 (0.9 for 90%)."
    assert goals_in_db(session_factory) == []


def test_the_form_takes_a_measure_and_puts_each_problem_beside_its_field(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    values = form(kind="goal", text="Closing: win more of what I open")
    values["coach_measure"] = {"coach_measure_input": {"type": "static_select", "selected_option": {"value": "win_rate"}}}
    values["coach_target"] = {"coach_target_input": {"type": "plain_text_input", "value": "lots"}}
    response = submit(app, "UCARL", values)
    assert response.status == 200
    import json

    assert json.loads(response.body)["errors"] == {
        "coach_target": "“lots” is not a number: write a share (90%), an amount (50,000) or a count (3)."
    }
    values["coach_target"] = {"coach_target_input": {"type": "plain_text_input", "value": "30%"}}
    assert json.loads(submit(app, "UCARL", values).body)["response_action"] == "update"
    assert goals_in_db(session_factory) == [("win_rate", None, 0.3, 0.0, "open")]


def test_progress_moves_with_each_gap_scan_and_the_goal_closes_achieved_telling_rep_and_coach(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, timezone="America/New_York")  # type: ignore[call-arg]
    context = JobContext(settings, session_factory, load_playbook())
    with session_scope(session_factory) as session:
        session.add(deal(team.riley, "A1", "20000", product_line="Analytics"))
        session.add(Goal(person_id=team.riley, set_by_id=team.carl, competency="Cross-sell", description="Analytics pipeline",
                         measure="pipeline_in_line", measure_arg="Analytics", target=50000.0, status="open", created_at=now))  # fmt: skip
    assert gap_scan.JOB.run(context, now, None).endswith("1 goals measured, 0 closed")
    assert goals_in_db(session_factory) == [("pipeline_in_line", "Analytics", 50000.0, 0.4, "open")]
    with session_scope(session_factory) as session:
        session.add(deal(team.riley, "A2", "35000", product_line="analytics"))  # the CRM's spelling varies
    later = now + dt.timedelta(hours=1)
    assert gap_scan.JOB.run(context, later, None).endswith("1 goals measured, 1 closed")
    assert goals_in_db(session_factory)[0][3:] == (1.0, "achieved")
    closings = [
        (recipient, payload["text"]) for key, recipient, kind, payload in outbox(session_factory) if kind == "goal_closed"
    ]
    assert closings == [
        ("URILEY", ":trophy: Your goal Cross-sell is achieved (Wed, Nov 25)."),
        ("UCARL", ":trophy: Riley Rep's goal Cross-sell is achieved (Wed, Nov 25)."),
    ]


def test_a_goal_past_its_due_date_on_the_reps_calendar_closes_as_missed(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, timezone="America/New_York")  # type: ignore[call-arg]
    context = JobContext(settings, session_factory, load_playbook())
    with session_scope(session_factory) as session:
        session.add(deal(team.riley, "O1", "10000", stage="Closed Lost", close_date=dt.date(2026, 11, 20)))
        session.add(deal(team.riley, "W1", "10000", stage="Closed Won", close_date=dt.date(2026, 11, 21)))
        session.add(Goal(person_id=team.riley, set_by_id=team.carl, competency="Closing", description="Win more", measure="win_rate",
                         target=0.8, status="open", due_date=dt.date(2026, 11, 24), created_at=now - dt.timedelta(days=20)))  # fmt: skip
    gap_scan.JOB.run(context, now, None)
    assert goals_in_db(session_factory)[0][3:] == (0.625, "missed")
    with session_factory() as session:
        assert session.scalar(select(Goal.closed_at)) == now
        assert session.scalar(select(Deal.id).where(Deal.crm_id == "W1")) is not None
    closings = [payload["text"] for key, recipient, kind, payload in outbox(session_factory) if kind == "goal_closed"]
    assert closings[0] == ":hourglass: Your goal Closing closed on Wed, Nov 25 at 62%, short of its target."
