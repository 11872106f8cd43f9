"""Coaching messages: the exact blocks and fallback text of each, escaping, and Slack's limits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.blocks import to_dicts
from bot.blocks.coaching import (
    action_assigned_message,
    action_done_message,
    action_reminder_message,
    checkin_answer_message,
    checkin_message,
    escalation_message,
    goal_reminder_message,
    plan_closed_message,
    plan_open_modal,
    plan_opened_message,
    plan_proposal_message,
)
from bot.slack_ids import ACTION_IDS, CHECKIN_ANSWERS

DONE_BUTTON = {
    "type": "actions",
    "block_id": "coaching_action_buttons",
    "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Done", "emoji": True}, "action_id": "coaching_action_done",
         "value": "42", "style": "primary"},
    ],
}  # fmt: skip


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    return {**element, "style": style} if style else element


def test_an_assigned_action_says_who_asked_what_by_when_with_a_done_button() -> None:
    message = action_assigned_message(
        action_id=42, text="Call the CFO at Acme\nand ask about budget", assigned_by="Carl Coach", due_date=dt.date(2026, 11, 27),
        deal_name="Acme renewal", deal_url="https://crm.example.com/A1", goal="Discovery",
    )  # fmt: skip
    assert to_dicts(message.blocks) == [
        section(":memo: *Carl Coach* asked you to:\n>Call the CFO at Acme\n>and ask about budget"),
        context("Due *Fri, Nov 27* · Deal: <https://crm.example.com/A1|Acme renewal> · For your goal: Discovery"),
        DONE_BUTTON,
    ]
    assert message.text == "Carl Coach asked you to: Call the CFO at Acme and ask about budget (due Fri, Nov 27)"


def test_an_action_without_due_date_or_links_says_so() -> None:
    message = action_assigned_message(action_id=42, text="Update close dates", assigned_by="Carl Coach", due_date=None)
    assert to_dicts(message.blocks)[:2] == [
        section(":memo: *Carl Coach* asked you to:\n>Update close dates"),
        context("No due date"),
    ]
    assert message.text == "Carl Coach asked you to: Update close dates"


def test_the_done_notice_names_who_did_it_and_whose_action_it_was() -> None:
    by_rep = action_done_message(text="Call the CFO", done_by="Riley Rep", rep_name="Riley Rep")
    assert to_dicts(by_rep.blocks) == [section(":white_check_mark: *Riley Rep* marked “Call the CFO” done.")]
    assert by_rep.text == "Riley Rep marked “Call the CFO” done."
    by_manager = action_done_message(text="Call the CFO", done_by="Mia Manager", rep_name="Riley Rep")
    assert by_manager.text == "Mia Manager marked “Call the CFO” done (Riley Rep's action)."


def test_an_escalation_says_what_is_late_and_by_how_much() -> None:
    message = escalation_message(rep_name="Riley Rep", text="Call the CFO", due_date=dt.date(2026, 11, 23), days_overdue=2)
    assert to_dicts(message.blocks) == [
        section(":warning: *Riley Rep* has not yet done “Call the CFO”, due Mon, Nov 23 (2 days ago)."),
        context("This is the only time I'll say so. A quick word with Riley may help."),
    ]
    assert message.text == "Riley Rep has not yet done “Call the CFO”, due Mon, Nov 23 (2 days ago)."
    assert escalation_message(rep_name="Riley Rep", text="x", due_date=dt.date(2026, 11, 24), days_overdue=1).text.endswith(
        "(yesterday)."
    )


def test_an_action_reminder_comes_with_the_done_button() -> None:
    message = action_reminder_message(
        action_id=42, text="Call the CFO", due_date=dt.date(2026, 11, 26), days_left=1, assigned_by="Carl Coach"
    )
    assert to_dicts(message.blocks) == [
        section(":alarm_clock: *Due tomorrow, Thu, Nov 26*: “Call the CFO” (asked by Carl Coach)"),
        DONE_BUTTON,
    ]
    assert message.text == "Due tomorrow, Thu, Nov 26: Call the CFO (asked by Carl Coach)"


def test_a_goal_reminder_shows_progress_and_how_it_is_measured() -> None:
    measured = goal_reminder_message(
        competency="Pipeline hygiene", description="A dated next step on nine deals in ten", due_date=dt.date(2026, 11, 28),
        days_left=3, progress=0.72, measure="next_step_coverage", target=0.9,
    )  # fmt: skip
    assert to_dicts(measured.blocks) == [
        section(
            ":dart: Your goal *Pipeline hygiene* is due in 3 days, Sat, Nov 28:\n>A dated next step on nine deals in ten\n"
            "Progress: *72%*, measured from the CRM (open deals with a dated next step, target 90%)."
        )
    ]
    assert measured.text == "Your goal Pipeline hygiene is due in 3 days (Sat, Nov 28): 72% done."
    own_word = goal_reminder_message(
        competency="Negotiation", description="Hold price", due_date=dt.date(2026, 11, 25), days_left=0, progress=0.5,
        measure=None, target=None,
    )  # fmt: skip
    assert to_dicts(own_word.blocks)[0]["text"]["text"].endswith(
        "is due today, Wed, Nov 25:\n>Hold price\nProgress: *50%*, as you last reported it. If it has moved, tell your coach."
    )


@pytest.mark.parametrize(
    ("measure", "target", "words"),
    [
        ("pipeline_added_per_week", 30000.0, "pipeline added in the last 7 days, target 30,000"),
        ("product_lines_in_play", 3.0, "product lines in play, target 3"),
        ("process_adherence", 0.85, "open deals with no process gap, target 85%"),
    ],
)
def test_each_measure_reads_in_words(measure: str, target: float, words: str) -> None:
    message = goal_reminder_message(
        competency="C", description="D", due_date=dt.date(2026, 11, 28), days_left=3, progress=0.5, measure=measure, target=target
    )
    assert f"measured from the CRM ({words})." in to_dicts(message.blocks)[0]["text"]["text"]


def test_the_plan_proposal_asks_the_manager_with_two_buttons() -> None:
    message = plan_proposal_message(
        plan_id=9, rep_name="Riley Rep", period_label="Q4 2026", projected=0.6, period_left=0.4, quota=Decimal("100000"),
        won=Decimal("20000"), gap=Decimal("80000"), pipeline_to_add=Decimal("50000"), conversion=0.8, currency="USD",
    )  # fmt: skip
    assert to_dicts(message.blocks) == [
        section(":rotating_light: *Riley Rep* is projected to reach *60%* of quota in Q4 2026, with 40% of the quarter still to go."),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Gap to quota*\n$80,000 ($20,000 won of $100,000)"},
                {"type": "mrkdwn", "text": "*Pipeline to add*\nabout $50,000, if it converts like Riley's pipeline today (80% by the playbook's stage odds)"},
            ],
        },
        section(
            "A recovery plan sets a few weekly commitments with Riley and checks in on them until the gap is closed or "
            "the quarter ends. Riley is told nothing unless you open one."
        ),
        {
            "type": "actions",
            "block_id": "coaching_plan_proposal_buttons",
            "elements": [
                button("Open a recovery plan", "coaching_plan_open", "9", "primary"),
                button("Not now", "coaching_plan_not_now", "9"),
            ],
        },
    ]  # fmt: skip
    assert message.text == "Riley Rep is projected at 60% of quota for Q4 2026: open a recovery plan?"


def test_the_open_plan_form_asks_for_commitments_and_a_cadence() -> None:
    view = plan_open_modal(plan_id=9, rep_name="Riley Rep", checkin_every_days=7).to_dict()
    every = [{"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}
             for text, value in (("Every 3 days", "3"), ("Every week", "7"), ("Every two weeks", "14"))]  # fmt: skip
    assert view == {
        "type": "modal",
        "callback_id": "coaching_plan_open_view",
        "private_metadata": "9",
        "title": {"type": "plain_text", "text": "Recovery plan", "emoji": True},
        "submit": {"type": "plain_text", "text": "Open plan", "emoji": True},
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "blocks": [
            section("Agree a few weekly commitments with *Riley Rep*: they are sent to Riley, and each check-in asks how they are going."),
            {
                "type": "input",
                "block_id": "coaching_plan_commitments",
                "label": {"type": "plain_text", "text": "Weekly commitments, one a line", "emoji": True},
                "element": {
                    "type": "plain_text_input", "action_id": "coaching_plan_commitments_input", "multiline": True, "max_length": 2000,
                    "placeholder": {"type": "plain_text", "text": "e.g. 15 prospecting calls a week", "emoji": True},
                },
            },
            {
                "type": "input",
                "block_id": "coaching_plan_cadence",
                "label": {"type": "plain_text", "text": "Check in", "emoji": True},
                "element": {"type": "static_select", "action_id": "coaching_plan_cadence_input", "options": every, "initial_option": every[1]},
            },
        ],
    }  # fmt: skip
    five = plan_open_modal(plan_id=9, rep_name="Riley Rep", checkin_every_days=5).to_dict()["blocks"][2]["element"]
    assert [option["value"] for option in five["options"]] == ["3", "5", "7", "14"]
    assert five["initial_option"]["text"]["text"] == "Every 5 days"


def test_the_opened_plan_tells_the_rep_the_aim_the_commitments_and_the_first_checkin() -> None:
    message = plan_opened_message(
        manager_name="Mia Manager", period_end=dt.date(2026, 12, 31), gap=Decimal("80000"), pipeline_to_add=Decimal("50000"),
        currency="USD", commitments=["15 calls a week", "Two new opportunities a week"], checkin_every_days=7,
        first_checkin=dt.date(2026, 12, 2),
    )  # fmt: skip
    assert to_dicts(message.blocks) == [
        section(
            ":handshake: *Mia Manager* opened a recovery plan with you for this quarter.\n"
            "The aim: close *$80,000* more by Thu, Dec 31, which means adding about *$50,000* of pipeline."
        ),
        section("*Your weekly commitments*\n• 15 calls a week\n• Two new opportunities a week"),
        context("I'll check in with you every week, first on Wed, Dec 2: three buttons, ten seconds."),
    ]
    assert message.text == "Mia Manager opened a recovery plan with you: close $80,000 more by Thu, Dec 31."


def test_a_checkin_has_three_answers_and_says_who_reads_them() -> None:
    message = checkin_message(
        checkin_id=7, manager_name="Mia Manager", period_end=dt.date(2026, 12, 31), days_left=36, gap=Decimal("80000"),
        pipeline_to_add=Decimal("50000"), currency="USD", commitments=["15 calls a week"],
    )  # fmt: skip
    assert to_dicts(message.blocks) == [
        section(
            ":wave: *Recovery plan check-in: how is it going?*\nThe quarter ends Thu, Dec 31 (36 days left). "
            "The plan: close $80,000 more and add $50,000 of pipeline.\nYour weekly commitments:\n• 15 calls a week"
        ),
        {
            "type": "actions",
            "block_id": "coaching_checkin_buttons",
            "elements": [
                button("On track", "coaching_checkin_on_track", "7", "primary"),
                button("At risk", "coaching_checkin_at_risk", "7"),
                button("Need help", "coaching_checkin_need_help", "7"),
            ],
        },
        context("Your answer goes to Mia Manager."),
    ]
    assert message.text == "Recovery plan check-in: are you on track, at risk, or do you need help?"
    assert CHECKIN_ANSWERS == {
        "coaching_checkin_on_track": "on_track", "coaching_checkin_at_risk": "at_risk", "coaching_checkin_need_help": "need_help",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "first_block", "extra"),
    [
        ("on_track", ":large_green_circle: *Riley Rep* is on track with their recovery plan (check-in of Mon, Nov 30).", []),
        ("at_risk", ":large_yellow_circle: *Riley Rep* is at risk on their recovery plan (check-in of Mon, Nov 30).", []),
        (
            "need_help",
            ":red_circle: *Riley Rep* needs help with their recovery plan (check-in of Mon, Nov 30).",
            [context("Worth a call with Riley today.")],
        ),
    ],
)
def test_the_manager_reads_each_answer_with_the_reps_note(answer: str, first_block: str, extra: list) -> None:
    message = checkin_answer_message(
        rep_name="Riley Rep", answer=answer, note="Globex slipped\nto January", asked_on=dt.date(2026, 11, 30)
    )
    assert to_dicts(message.blocks) == [section(first_block + "\n>Globex slipped\n>to January"), *extra]
    assert message.text == first_block.split(" ", 1)[1].replace("*", "")


def test_a_closed_plan_reads_differently_for_the_rep_and_the_manager() -> None:
    outcome = "Q4 2026 ended at 85% of quota: $85,000 won of $100,000, $15,000 short."
    to_rep = plan_closed_message(
        rep_name="Riley Rep", period_label="Q4 2026", status="missed", outcome=outcome, for_manager=False
    )
    assert to_dicts(to_rep.blocks) == [
        section(f":checkered_flag: *Your recovery plan for Q4 2026 has ended.*\n>{outcome}"),
        context("Take what worked into next quarter; your manager will talk it through with you."),
    ]
    to_manager = plan_closed_message(
        rep_name="Riley Rep", period_label="Q4 2026", status="recovered", outcome="Quota made.", for_manager=True
    )
    assert to_dicts(to_manager.blocks) == [
        section(":tada: *Riley Rep's recovery plan for Q4 2026 is closed: recovered.*\n>Quota made.")
    ]
    assert to_manager.text == "Riley Rep's recovery plan for Q4 2026 is closed: recovered. Quota made."


def test_typed_text_is_escaped_so_it_cannot_ping_or_link() -> None:
    hostile = "<!channel> pay <https://evil.example|here> & now"
    message = action_assigned_message(action_id=1, text=hostile, assigned_by="<@U1>", due_date=None, deal_name="<b>", goal="&")
    dumped = str(to_dicts(message.blocks)) + message.text
    assert "<!channel>" not in dumped and "<https://evil" not in dumped and "<@U1>" not in dumped
    assert to_dicts(message.blocks)[0]["text"]["text"] == (
        ":memo: *&lt;@U1&gt;* asked you to:\n>&lt;!channel&gt; pay &lt;https://evil.example|here&gt; &amp; now"
    )
    answer = checkin_answer_message(rep_name="Riley Rep", answer="at_risk", note="<!here>", asked_on=dt.date(2026, 11, 30))
    assert to_dicts(answer.blocks)[0]["text"]["text"].endswith("\n>&lt;!here&gt;")


def test_long_text_and_many_commitments_stay_within_slack_limits() -> None:
    long_text = "word " * 2000
    many = [f"Commitment {n} " + "x" * 290 for n in range(40)]
    messages = [
        action_assigned_message(action_id=1, text=long_text, assigned_by="A" * 500, due_date=None, deal_name=long_text, goal=long_text),
        escalation_message(rep_name="R", text=long_text, due_date=dt.date(2026, 11, 23), days_overdue=400),
        goal_reminder_message(competency=long_text, description=long_text, due_date=dt.date(2026, 11, 28), days_left=3, progress=0.1, measure=None, target=None),
        plan_opened_message(manager_name="M", period_end=dt.date(2026, 12, 31), gap=Decimal(1), pipeline_to_add=Decimal(1), currency="USD",
                            commitments=many, checkin_every_days=7, first_checkin=None),
        checkin_message(checkin_id=1, manager_name="M", period_end=dt.date(2026, 12, 31), days_left=1, gap=Decimal(1),
                        pipeline_to_add=Decimal(1), currency="USD", commitments=many),
        checkin_answer_message(rep_name="R", answer="need_help", note=long_text, asked_on=dt.date(2026, 11, 30)),
        plan_closed_message(rep_name="R", period_label="Q4", status="missed", outcome=long_text, for_manager=True),
    ]  # fmt: skip
    for message in messages:
        blocks = to_dicts(message.blocks)  # slack_sdk validates shapes and its own limits here
        assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in blocks)
        assert all(
            len(element["text"]) <= 3000
            for block in blocks
            for element in block.get("elements", [])
            if "text" in element and isinstance(element["text"], str)
        )
        assert len(message.text) <= 4000
    assert to_dicts(messages[3].blocks)[1]["text"]["text"].endswith("• …and 30 more")


def test_every_action_id_is_distinct() -> None:
    assert len(set(ACTION_IDS)) == len(ACTION_IDS) == 13
