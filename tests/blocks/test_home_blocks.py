"""The App Home view: exact blocks for known data, and Slack's limits with hundreds of items."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.blocks.home import MAX_GAPS_SHOWN, home_view, not_linked_home_view
from bot.coaching.home import HomeAction, HomeData, HomeGap
from bot.coaching.scorecard import GoalFacts, PlanFacts
from bot.coaching.team import TeamPerformance, TeamRow, TeamTotals, attention_order
from bot.periods import Period
from bot.slack_ids import ACTION_DONE, DEAL_UPDATE, NUDGE_GAP_SNOOZE, ONE_ON_ONE_OPEN
from tests.coaching.test_scorecard import NOW, card

QBR = HomeAction(7, "Book a QBR with <Globex> & co", dt.date(2026, 11, 13), overdue=True, assigned_by="Mia Manager")
CALL = HomeAction(8, "Call the CFO", None, overdue=False, assigned_by=None)
GAP = HomeGap(11, 5, "Deal E", "https://crm.example.com/E", "close_date_past", "high", "close date Nov 10 has passed",
              "Move the close date.", 9000.0, None)  # fmt: skip
SNOOZED = HomeGap(12, 6, "Deal F", None, "next_step_overdue", "medium", None, "Do it today.", 100.0, dt.date(2026, 11, 20))
GOAL = GoalFacts("Discovery", "Ask three open questions on every first call", dt.date(2026, 12, 15), 0.4)
PLAN = PlanFacts("open", Decimal("60000"), Decimal("120000"), "USD", dt.date(2026, 12, 31))


def home(**fields: object) -> HomeData:
    values: dict[str, object] = {
        "person_name": "Riley Rep", "now": NOW, "timezone": "UTC", "scorecard": card(), "actions": (), "goals": (),
        "gaps": (), "plan": None, "team": None,
    }  # fmt: skip
    values.update(fields)
    return HomeData(**values)  # type: ignore[arg-type]


Q4 = Period("quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "Q4 2026", "UTC")


def row(name: str, attention: tuple[str, ...] = (), person_id: int = 0) -> TeamRow:
    return TeamRow(
        person_id=person_id, name=name, currency="USD", quota=Decimal(100000), won_amount=Decimal(40000), attainment=0.4, pace=0.66,
        projected_amount=Decimal(86000), projected_attainment=0.86, open_deals=2, deals_with_gaps=1, adherence=0.5,
        overdue_actions=0, plan=None, attention=attention, goals_open=1, goals_progress=0.4,
    )  # fmt: skip


def team(rows: tuple[TeamRow, ...], quota: Decimal | None = Decimal("100000")) -> TeamPerformance:
    totals = None if quota is None else TeamTotals("USD", len(rows), quota, Decimal("40000"), Decimal("86000"), left_out=0)
    return TeamPerformance("Mia Manager", Q4, 0.49, tuple(sorted(rows, key=attention_order)), totals)


def update_button_json(deal_id: int) -> dict[str, object]:
    """The "Update…" button a gap carries: it opens the CRM write-back modal for the deal."""
    return {
        "type": "button",
        "action_id": DEAL_UPDATE,
        "value": str(deal_id),
        "text": {"type": "plain_text", "text": "Update…", "emoji": True},
    }


def section_texts(view: dict) -> list[str]:  # type: ignore[type-arg]
    return [block["text"]["text"] for block in view["blocks"] if block["type"] == "section"]


def test_a_reps_home_puts_the_number_first_then_actions_gaps_goals_and_plan() -> None:
    view = home_view(
        home(actions=(QBR, CALL), gaps=(GAP, SNOOZED), goals=(GOAL,), plan=PLAN, open_deal_count=3, deals_with_gaps=2)
    )
    assert view["type"] == "home"
    blocks = view["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Q4 2026 · Riley Rep", "emoji": True}}
    assert blocks[1]["text"]["text"] == "*The number*\n*$40,000* closed-won of *$100,000* quota: *40%*"
    assert blocks[2]["text"]["text"] == "*How you are building it*"
    assert blocks[3]["type"] == "context"
    assert blocks[4:] == [
        {"type": "divider"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Your open actions* (2)"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":warning: Book a QBR with &lt;Globex&gt; &amp; co\n_overdue since Nov 13 · from Mia Manager_",
            },
            "accessory": {
                "type": "button",
                "action_id": ACTION_DONE,
                "value": "7",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Done", "emoji": True},
            },
        },  # fmt: skip
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Call the CFO"},
            "accessory": {
                "type": "button",
                "action_id": ACTION_DONE,
                "value": "8",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Done", "emoji": True},
            },
        },  # fmt: skip
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Process gaps on your deals* (2 open, 1 snoozed) · 1 of 3 open deals follow the process (33%)",
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "<https://crm.example.com/E|Deal E>: close date Nov 10 has passed\n_Do:_ Move the close date.",
            },
            "accessory": {
                "type": "button",
                "action_id": NUDGE_GAP_SNOOZE,
                "value": "11",
                "text": {"type": "plain_text", "text": "Snooze…", "emoji": True},
            },
        },  # fmt: skip
        {"type": "actions", "elements": [update_button_json(GAP.deal_id)]},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Deal F*: next step overdue\n:zzz: _Snoozed until Nov 20_"},
            "accessory": update_button_json(SNOOZED.deal_id),
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Your development goals* (1)\n• *Discovery*: Ask three open questions on every first call\n"
                "   `████░░░░░░` 40% · due Dec 15",
            },
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Your recovery plan* (in progress)\nClose $60,000 and add $120,000 of pipeline by Dec 31. "
                "Your manager checks in with you as agreed.",
            },
        },
    ]


def test_a_rep_with_nothing_open_is_told_so() -> None:
    assert section_texts(home_view(home(open_deal_count=3)))[2:] == [
        "*Your open actions*\nNothing open: nobody has asked anything of you.",
        "*Process gaps on your deals*\nNone open: 3 of 3 open deals follow the process (100%). :white_check_mark:",
        "*Your development goals*\nNo goals yet: ask your coach or manager to set one.",
    ]


def test_a_rep_without_open_deals_is_told_to_build_pipeline() -> None:
    assert "*Process gaps on your deals*\nNo open deals: time to build pipeline." in section_texts(home_view(home()))


def test_a_managers_home_is_the_team_summary_without_a_scorecard() -> None:
    rows = (row("Riley Rep", ("pace 66%", "only 50% of open deals follow the process")), row("Sam Seller"))
    view = home_view(home(person_name="Mia Manager", scorecard=None, team=team(rows)))
    assert view["blocks"] == [
        {"type": "header", "text": {"type": "plain_text", "text": "Your team · Q4 2026", "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*The team's number*\n*$40,000* closed-won of *$100,000* quota: *40%* · pace 82% "
                "(:large_yellow_circle: a little behind pace) · projected 86% · 2 reps, 49% of the quarter gone",
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Who needs coaching attention*\n• *Riley Rep*: pace 66%; only 50% of open deals follow the process",
            },
        },
        # Beside who needs attention, their 1:1 agenda (the digest's button: bot/blocks/agenda.py).
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "1:1 agenda: Riley", "emoji": True},
                    "action_id": f"{ONE_ON_ONE_OPEN}:0",
                    "value": "0",
                },
            ],  # fmt: skip
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "```rep                    won  pace  proj process\n"
                "Riley Rep              40%   66%   86%     50% !!\n"
                "Sam Seller             40%   66%   86%     50% ```",
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "won, pace, proj: of quota this quarter · process: open deals with no gap · "
                    "!: reasons for attention · as of Nov 15, 00:00 (UTC)",
                }  # fmt: skip
            ],
        },
    ]


def test_a_team_without_quotas_shows_closed_won_only() -> None:
    view = home_view(home(scorecard=None, team=team((row("Riley Rep"),), quota=None)))
    assert section_texts(view)[0] == "*The team's number*\n*$40,000* closed-won by 1 rep; no quotas set."
    assert section_texts(view)[1] == "*Nobody needs special attention.* :tada:"


def test_a_manager_or_coach_without_reps_is_told_so() -> None:
    view = home_view(home(scorecard=None, team=team(())))
    assert section_texts(view) == ["No active reps report to you or are coached by you yet."]


def test_someone_with_no_role_and_nothing_open_gets_a_short_explanation() -> None:
    assert section_texts(home_view(home(scorecard=None))) == [
        "*Nothing here for you yet.* coachbot shows reps their number, actions, goals and process gaps here, "
        "and managers and coaches their team."
    ]


def test_someone_unknown_is_told_how_to_be_linked() -> None:
    assert not_linked_home_view("olly.outsider@example.com") == {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Welcome to coachbot", "emoji": True}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":wave: I don't know you yet. Your Slack account (olly.outsider@example.com) is not in coachbot's "
                    "org yet. Ask your coachbot admin to add that email to the org file and run `coachbot org import`; "
                    "use the same email as in the CRM.",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Once you are added, this tab shows your scorecard, actions, goals and process gaps, "
                        "and `/myperf` works.",
                    }  # fmt: skip
                ],
            },
        ],
    }


def assert_within_slack_limits(view: dict) -> None:  # type: ignore[type-arg]
    assert len(view["blocks"]) <= 100
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert all(len(field["text"]) <= 2000 for field in block.get("fields", []))


def test_hundreds_of_actions_gaps_goals_and_reps_stay_within_slack_limits() -> None:
    long = "x" * 2500
    actions = tuple(HomeAction(n, f"Action {n} {long}", dt.date(2026, 11, 1), True, "M" * 200) for n in range(60))
    gaps = tuple(
        HomeGap(n, n, f"Deal {n} {long}", f"https://crm.example.com/{n}", "stale_stage", "high", long, long, 300.0 - n, None)
        for n in range(300)
    )  # fmt: skip
    goals = tuple(GoalFacts("C" * 100, long, dt.date(2026, 12, 1), 0.5) for _ in range(40))
    rows = tuple(row(f"Rep {n:03d} {'y' * 40}", ("pace 50%", "projected 60% of quota", long)) for n in range(200))
    view = home_view(
        home(actions=actions, gaps=gaps, goals=goals, plan=PLAN, team=team(rows), open_deal_count=300, deals_with_gaps=300)
    )
    assert_within_slack_limits(view)
    assert len(view["blocks"]) == 66  # the most a Home can have: every list is cut
    [agendas] = [
        block for block in view["blocks"] if block["type"] == "actions" and block["elements"][0]["text"]["text"].startswith("1:1")
    ]
    assert len(agendas["elements"]) == 10  # one per rep named as needing attention, within an actions block's 25
    texts = [element["text"] for block in view["blocks"] if block["type"] == "context" for element in block["elements"]]
    assert "…and 50 more open actions: they show here as you mark these done." in texts
    assert f"…and {300 - MAX_GAPS_SHOWN} more gaps, smaller or snoozed: they show here as you fix or snooze these." in texts
    assert "100 more reps not shown: `/teamperf` has everyone." in texts
    snooze_buttons = [b for b in view["blocks"] if b.get("accessory", {}).get("action_id") == NUDGE_GAP_SNOOZE]
    assert [b["accessory"]["value"] for b in snooze_buttons] == [str(n) for n in range(MAX_GAPS_SHOWN)]
    goals_text = next(text for text in section_texts(view) if text.startswith("*Your development goals*"))
    assert goals_text.endswith("more goals.")
    attention_text = next(text for text in section_texts(view) if text.startswith("*Who needs coaching attention*"))
    assert attention_text.endswith("more reps.")
