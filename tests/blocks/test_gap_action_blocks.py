"""The snooze modal, the replies to Snooze… and I fixed it, and the recheck's message: exact blocks."""

from __future__ import annotations

import datetime as dt
import json

from bot.blocks import to_dicts
from bot.blocks.gap_actions import fix_claimed_note, gap_still_open_message, snooze_modal, snoozed_note
from bot.coaching.fixes import MAX_SNOOZE_DAYS, snooze_problem
from bot.slack_ids import SNOOZE_REASON_BLOCK, SNOOZE_REASON_INPUT, SNOOZE_UNTIL_BLOCK, SNOOZE_UNTIL_INPUT, SNOOZE_VIEW

TODAY = dt.date(2026, 11, 25)


def test_the_snooze_modal_asks_until_when_and_why_both_required() -> None:
    view = snooze_modal(gap_id=7, deal_name="Acme <Renewal>", detail="close date Nov 20 has passed", today=TODAY,
                        max_days=90, response_url="https://hooks.slack.com/actions/T1/1/x").to_dict()  # fmt: skip
    assert view == {
        "type": "modal",
        "callback_id": SNOOZE_VIEW,
        "private_metadata": json.dumps({"gap": 7, "response_url": "https://hooks.slack.com/actions/T1/1/x"}),
        "title": {"type": "plain_text", "text": "Snooze a gap", "emoji": True},
        "submit": {"type": "plain_text", "text": "Snooze", "emoji": True},
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Acme &lt;Renewal&gt;*: close date Nov 20 has passed\nIt leaves your nudges until the date you pick "
                    "(at most 90 days), or sooner if the gap is fixed. Your manager sees the date and your reason.",
                },
            },
            {
                "type": "input",
                "block_id": SNOOZE_UNTIL_BLOCK,
                "label": {"type": "plain_text", "text": "Snooze until", "emoji": True},
                "element": {"type": "datepicker", "action_id": SNOOZE_UNTIL_INPUT, "initial_date": "2026-12-02"},
            },
            {
                "type": "input",
                "block_id": SNOOZE_REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why", "emoji": True},
                "element": {
                    "type": "plain_text_input",
                    "action_id": SNOOZE_REASON_INPUT,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "e.g. Buyer on leave until the 14th; call booked for the 15th",
                        "emoji": True,
                    },
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }


def test_a_snooze_date_must_be_after_today_and_within_ninety_days_and_a_reason_is_required() -> None:
    assert MAX_SNOOZE_DAYS == 90
    assert snooze_problem(TODAY + dt.timedelta(days=1), "Buyer away", TODAY) == (None, None)
    assert snooze_problem(TODAY + dt.timedelta(days=90), "Buyer away", TODAY) == (None, None)
    assert snooze_problem(TODAY + dt.timedelta(days=91), "Buyer away", TODAY) == (
        "Snooze for 90 days at most (until Feb 23).",
        None,
    )
    assert snooze_problem(TODAY, " \n ", TODAY) == ("Pick a date after today.", "Say why: your manager sees the reason.")
    assert snooze_problem(None, "Buyer away", TODAY) == ("Pick the date it should come back.", None)


def test_the_replies_say_what_happens_next() -> None:
    assert snoozed_note(dt.date(2026, 12, 2), "Buyer\n on <leave>") == (
        ":zzz: Snoozed until Dec 2: “Buyer on &lt;leave&gt;”. Your manager sees it; it ends early if the gap is fixed."
    )
    assert fix_claimed_note("Acme & Co") == (
        ":mag: Thanks: coachbot rechecks *Acme &amp; Co* on the next CRM sync and closes the gap if the CRM agrees. "
        "If it still shows the gap, I'll tell you."
    )


def test_the_recheck_message_says_what_the_crm_still_shows_and_links_the_deal() -> None:
    message = gap_still_open_message(deal_name="Acme <X>", detail="no dated next step", todo="Add the next meeting.",
                                     deal_url="https://crm.example.com/deals/1")  # fmt: skip
    assert to_dicts(message.blocks) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            ":mag: You said you fixed *Acme &lt;X&gt;*, but after the latest CRM sync it still shows: no dated next step.\n"
            "_Do:_ Add the next meeting.")}},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in CRM", "emoji": True},
                                          "url": "https://crm.example.com/deals/1", "action_id": "nudge_open_crm:recheck"}]},
    ]  # fmt: skip
    assert message.text == "You said you fixed Acme &lt;X&gt;, but the CRM still shows: no dated next step."
    assert len(gap_still_open_message(deal_name="A", detail="d", todo="t", deal_url=None).blocks) == 1
