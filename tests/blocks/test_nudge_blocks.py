"""The morning nudge's heading and its plain-text fallback read the same, escaped alike."""

from __future__ import annotations

from decimal import Decimal

import pytest
from slack_sdk.errors import SlackObjectFormationError

from bot.blocks import to_dicts
from bot.blocks.nudges import GAP_BUTTONS, app_home_url, nudge_block_dicts, nudge_blocks, nudge_text
from bot.coaching.nudges import DealIdentity, NudgeItem
from bot.slack_ids import DEAL_UPDATE, NUDGE_GAP_FIXED, NUDGE_GAP_SNOOZE, NUDGE_OPEN_CRM


def test_a_name_with_markup_is_escaped_in_the_fallback_exactly_as_in_the_blocks() -> None:
    assert nudge_text("<!here> Riley", [], 0) == "Good morning &lt;!here&gt;: 0 things worth doing today."
    heading = to_dicts(nudge_blocks("<!here> Riley", [], 0))[0]["text"]["text"]
    assert heading == "*Good morning &lt;!here&gt;: 0 things worth doing today.*"


def test_a_plain_name_reads_as_typed() -> None:
    assert nudge_text("Riley Rep", [], 0) == "Good morning Riley: 0 things worth doing today."


def test_the_nudge_json_built_directly_is_what_the_block_models_render() -> None:
    items = [
        NudgeItem(
            "gap",
            7,
            "Acme <Renewal> & Co",
            "no dated next step",
            "Why & how",
            "Fix it",
            1,
            3000.0,
            "https://crm.example.com/deals/O1",
        ),
        NudgeItem("gap", 8, "Globex", "close date passed", "Why", "Do", 1, 10.0),
        NudgeItem("action", 9, "Send the plan", "overdue since Nov 23", "Your coach asked for it.", "Do it.", 0),
        NudgeItem("goal", 10, "Goal: Discovery", "40% done, due Nov 30", "x" * 400, "Take one step toward it today.", 3),
    ]
    for shown, total in ((items, 4), (items[:2], 6), (items[2:], 3), ([], 0)):
        assert nudge_block_dicts("Riley <Rep>", shown, total) == to_dicts(nudge_blocks("Riley <Rep>", shown, total))


def test_a_link_past_slacks_limit_fails_as_the_block_models_always_did() -> None:
    too_long = NudgeItem("gap", 7, "Acme", "no dated next step", "Why", "Do", 1, 1.0, "https://crm.example.com/" + "x" * 3000)
    with pytest.raises(SlackObjectFormationError, match="url attribute cannot exceed 3000 characters"):
        nudge_block_dicts("Riley Rep", [too_long], 1)


def gap_item(url: str | None = "https://crm.example.com/deals/70") -> NudgeItem:
    return NudgeItem(
        "gap", 7, "Northwind <Core> & Co", "41 days in Proposal (limit 21)", "In Proposal 41 days; the playbook allows 21.",
        "Advance it, or book the step that will.", 1, 86400.0, url,
        DealIdentity("Northwind <Core> & Co", "Northwind Traders", Decimal("48000"), "USD", "Proposal", 41, 70),
        "Ranked 1st: $28,800 at stake at high severity, the biggest risk of your 18 open gaps.", "high",
    )  # fmt: skip


def button(text: str, action_id: str, value: str | None = None, url: str | None = None) -> dict[str, object]:
    element: dict[str, object] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
    }
    if url:
        element["url"] = url
    if value is not None:
        element["value"] = value
    return element


def test_a_gap_item_names_the_deal_says_why_and_why_it_ranks_there_with_its_four_buttons() -> None:
    blocks = to_dicts(nudge_blocks("Riley Rep", [gap_item()], 19, "slack://app?team=T0001&id=A0001&tab=home"))
    assert blocks[1:] == [
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Northwind &lt;Core&gt; &amp; Co*\nNorthwind Traders · $48,000 · Proposal, 41 days in stage\n"
                "_Why:_ In Proposal 41 days; the playbook allows 21.\n_Do:_ Advance it, or book the step that will.",
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Ranked 1st: $28,800 at stake at high severity, the biggest risk of your 18 open gaps.",
                }
            ],
        },
        {
            "type": "actions",
            "elements": [
                button("Open in CRM", f"{NUDGE_OPEN_CRM}:7", url="https://crm.example.com/deals/70"),
                button("Update…", DEAL_UPDATE, "70"),
                button("Snooze…", NUDGE_GAP_SNOOZE, "7"),
                button("I fixed it", NUDGE_GAP_FIXED, "7"),
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "…and 18 more: see them all in <slack://app?team=T0001&id=A0001&tab=home|your coachbot Home>.",
                }
            ],
        },
    ]


def test_without_a_crm_link_or_app_ids_the_item_has_no_open_button_and_more_names_the_home_tab() -> None:
    blocks = to_dicts(nudge_blocks("Riley Rep", [gap_item(url=None)], 3))
    assert blocks[-2] == {
        "type": "actions",
        "elements": [
            button("Update…", DEAL_UPDATE, "70"), button("Snooze…", NUDGE_GAP_SNOOZE, "7"), button("I fixed it", NUDGE_GAP_FIXED, "7"),
        ],
    }  # fmt: skip
    assert blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "…and 2 more: see them all in your coachbot Home tab."}],
    }


def test_the_fallback_text_names_each_item_with_its_deal_and_why() -> None:
    action = NudgeItem("action", 9, "Send the plan", "overdue since Nov 23", "Your coach asked for it.", "Do it.", 0)
    assert nudge_text("Riley Rep", [action, gap_item()], 5, "slack://app?team=T1&id=A1&tab=home") == (
        "Good morning Riley: 2 things worth doing today.\n"
        "• Send the plan: Your coach asked for it.\n"
        "• Northwind &lt;Core&gt; &amp; Co (Northwind Traders · $48,000 · Proposal, 41 days in stage): "
        "In Proposal 41 days; the playbook allows 21.\n"
        "…and 3 more: see them all in <slack://app?team=T1&id=A1&tab=home|your coachbot Home>."
    )


def test_the_app_home_link_needs_both_ids() -> None:
    assert app_home_url("T0001", "A0001") == "slack://app?team=T0001&id=A0001&tab=home"
    assert app_home_url(None, "A0001") is None
    assert app_home_url("T0001", None) is None


def test_the_direct_json_matches_the_models_with_identity_rank_reasons_and_the_home_link() -> None:
    items = [
        gap_item(),
        gap_item(url=None),
        NudgeItem("action", 9, "Send", "due today", "Why", "Do", 2, rank_reason="Actions due soon come after your deals' gaps."),
    ]
    for home_url in (None, "slack://app?team=T1&id=A1&tab=home"):
        assert nudge_block_dicts("Riley", items, 30, home_url) == to_dicts(nudge_blocks("Riley", items, 30, home_url))


def test_the_gap_buttons_are_one_list_so_one_more_is_one_more_entry() -> None:
    assert GAP_BUTTONS == (("Snooze…", NUDGE_GAP_SNOOZE), ("I fixed it", NUDGE_GAP_FIXED))


def test_the_identity_line_shows_each_part_only_when_the_crm_gives_it() -> None:
    from bot.blocks.nudges import identity_line

    assert identity_line(DealIdentity("Acme", None, None, "USD", None, None)) == ""
    bare = NudgeItem(
        "gap",
        1,
        "Acme",
        "no close date",
        "No close date.",
        "Set it.",
        1,
        deal=DealIdentity("Acme", None, None, "USD", None, None),
    )
    assert to_dicts(nudge_blocks("Riley", [bare], 1))[2]["text"]["text"] == "*Acme*\n_Why:_ No close date.\n_Do:_ Set it."
    assert nudge_text("Riley", [bare], 1) == "Good morning Riley: 1 thing worth doing today.\n• Acme: No close date."
    assert identity_line(DealIdentity("Acme", None, Decimal("1200"), "EUR", "Demo", None)) == "€1,200 · Demo"
    assert (
        identity_line(DealIdentity("Acme", "Acme <Ltd>", Decimal("1200"), "GBP", "Demo", 1))
        == "Acme &lt;Ltd&gt; · £1,200 · Demo, 1 day in stage"
    )
