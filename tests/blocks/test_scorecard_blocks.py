"""The scorecard message: exact blocks for a known scorecard, and Slack's limits under load."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.blocks import to_dicts
from bot.blocks.scorecard import scorecard_blocks, scorecard_text
from bot.coaching.scorecard import ActionFacts, DealFacts, Development, GoalFacts, PlanFacts, build_scorecard
from tests.coaching.test_scorecard import ALL, CATALOGUE, NOW, PLAYBOOK, Q4, QUOTA, card, deal


def test_the_whole_scorecard_message() -> None:
    blocks = to_dicts(scorecard_blocks(card(), NOW))
    assert blocks == [
        {"type": "header", "text": {"type": "plain_text", "text": "Q4 2026 scorecard · Riley Rep", "emoji": True}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*The number*\n*$40,000* closed-won of *$100,000* quota: *40%*"},
            "fields": [
                {"type": "mrkdwn", "text": "*Pace*\n82%: :large_yellow_circle: a little behind pace\n49% of the quarter gone"},
                {"type": "mrkdwn", "text": "*Projected*\n72% ($72,000)\nwon + stage-weighted pipeline"},
                {"type": "mrkdwn", "text": "*Gap to quota*\n$60,000"},
                {"type": "mrkdwn", "text": "*Pipeline coverage*\n0.8× the gap\n$50,000 closing this quarter"},
            ],
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*How you are building it*"},
            "fields": [
                {"type": "mrkdwn", "text": "*Win rate*\n75% by count · 67% by value"},
                {"type": "mrkdwn", "text": "*Average deal*\n$20,000"},
                {"type": "mrkdwn", "text": "*Sales cycle*\n33 days"},
                {"type": "mrkdwn", "text": "*Sales velocity*\n$1,350 a day"},
                {"type": "mrkdwn", "text": "*Product lines*\n3 of 4\nnot yet: Training"},
            ],
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Process*: 2 of 3 open deals follow the process (67%)\n"
                "• *Deal E* ($10,000, Negotiation): no dated next step; close date Nov 10 has passed; "
                "45 days in Negotiation (limit 14)",
            },
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Development*\n• No development goals yet: ask your coach or manager to set one.\n• No open actions.",
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Figures in USD · as of Nov 15, 00:00 (UTC) · 1 deal(s) in other currencies left out of money figures",
                }
            ],
        },
    ]


def test_the_fallback_text_carries_the_number() -> None:
    assert scorecard_text(card()) == "Q4 2026: $40,000 of $100,000 (40%), pace 82%, projected 72%, 1 deal(s) with process gaps."


def test_without_a_quota_the_number_says_so() -> None:
    blocks = to_dicts(scorecard_blocks(card(quota=[]), NOW))
    assert blocks[1] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*The number*\n*$40,000* closed-won this quarter. No quota is set for it, so there is no pace or gap: "
            "ask your admin to import one.",
        },
    }
    assert scorecard_text(card(quota=[])) == "Q4 2026: $40,000 closed-won (no quota set)."


def test_goals_actions_and_a_plan_are_listed_under_development() -> None:
    development = Development(
        goals=(GoalFacts("Discovery", "Two contacts on every late-stage deal", dt.date(2026, 12, 12), 0.4),),
        actions=(
            ActionFacts("Book a QBR with Globex", dt.date(2026, 11, 10), overdue=True),
            ActionFacts("Update close dates", dt.date(2026, 11, 20), overdue=False),
        ),
        plan=PlanFacts("open", Decimal("60000"), Decimal("180000"), "USD", dt.date(2026, 12, 31)),
    )
    blocks = to_dicts(scorecard_blocks(card(development=development), NOW))
    assert blocks[7]["text"]["text"] == (
        "*Development*\n"
        "• Goal: *Discovery*: Two contacts on every late-stage deal (40%, due Dec 12)\n"
        "• Action: Book a QBR with Globex (overdue since Nov 10)\n"
        "• Action: Update close dates (due Nov 20)\n"
        "• Recovery plan (in progress): close $60,000, add $180,000 of pipeline by Dec 31"
    )


def test_crm_text_is_escaped_so_it_cannot_ping_or_link() -> None:
    hostile = deal("X", "1000", "Demo", name="<!channel> & <https://evil.example|click>", close_date=dt.date(2026, 11, 1))
    text = to_dicts(scorecard_blocks(card(deals=[hostile]), NOW))[5]["text"]["text"]
    assert "• *&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;* ($1,000, Demo)" in text


def test_two_hundred_deals_with_gaps_stay_within_slack_limits() -> None:
    many = [deal(f"D{n}", "1000", "Demo", name="A very long deal name " * 5, close_date=dt.date(2026, 11, 1)) for n in range(200)]
    scorecard = build_scorecard(
        person_name="R" * 300, period=Q4, deals=many + ALL, quota_spans=QUOTA, playbook=PLAYBOOK,
        catalogue=CATALOGUE, default_currency="USD", now=NOW,
    )  # fmt: skip
    blocks = to_dicts(scorecard_blocks(scorecard, NOW))  # slack_sdk validates lengths here
    assert len(blocks) <= 50
    process = blocks[5]["text"]["text"]
    assert len(process) <= 3000
    assert process.endswith("…and 193 more deals with gaps.")
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in blocks)
    assert all(len(field["text"]) <= 2000 for block in blocks for field in block.get("fields", []))


def test_a_long_product_catalogue_names_a_few_missing_lines_and_counts_the_rest() -> None:
    catalogue = tuple(f"Product line number {n} with a long name" * 3 for n in range(60))
    scorecard = build_scorecard(
        person_name="R", period=Q4, deals=ALL, quota_spans=QUOTA, playbook=PLAYBOOK, catalogue=catalogue,
        default_currency="USD", now=NOW,
    )  # fmt: skip
    [breadth] = [
        f["text"] for f in to_dicts(scorecard_blocks(scorecard, NOW))[3]["fields"] if f["text"].startswith("*Product lines*")
    ]
    assert breadth.startswith("*Product lines*\n0 of 60\nnot yet: Product line number 0")
    assert breadth.endswith(" and 54 more")
    assert len(breadth) <= 2000


def test_a_deal_without_an_amount_says_so() -> None:
    no_amount = DealFacts(
        crm_id="N", name="Unpriced", amount=None, currency="USD", stage="Demo", is_closed=False, is_won=False,
        created_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC), close_date=None,
    )  # fmt: skip
    text = to_dicts(scorecard_blocks(card(deals=[no_amount]), NOW))[5]["text"]["text"]
    assert "• *Unpriced* (no amount, Demo): no dated next step; no close date" in text
