"""The Update modal's blocks: the form pre-filled (or as typed) with errors beside their fields, the
answer, what a submission reads, and the "Update…" buttons on /myperf."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from bot.blocks.scorecard import process_blocks
from bot.blocks.writeback import error_blocks, outcome_view, read_submission, update_button, update_modal
from bot.coaching.scorecard import DealFacts, DealGaps, GapReason
from bot.coaching.writeback import GENERAL, WriteOutcome
from bot.slack_ids import DEAL_UPDATE, DEAL_UPDATE_BLOCKS, DEAL_UPDATE_VIEW
from tests.coaching.test_writeback import FORM


def plain(text: str) -> dict[str, object]:
    return {"emoji": True, "text": text, "type": "plain_text"}


def test_a_refused_form_keeps_what_was_typed_and_puts_each_error_beside_its_field() -> None:
    view = update_modal(
        FORM, typed={"close_date": "2027-01-05"}, errors={"close_date": "Too late", GENERAL: "HubSpot refused <it>"}
    )
    blocks = view.to_dict()["blocks"]
    assert [block["type"] for block in blocks] == ["section", "section", "input", "input", "input", "context", "input", "input"]
    assert blocks[0]["text"]["text"] == "*Globex* (Riley Rep's)\nOpen gaps: close date Nov 20 has passed"
    assert blocks[1]["text"]["text"] == ":warning: HubSpot refused &lt;it&gt;"
    assert blocks[4] == {
        "block_id": "deal_update_close_date", "type": "input", "optional": True, "label": plain("Close date"),
        "hint": plain("When the deal is expected to close."),
        "element": {"action_id": "deal_update_close_date_input", "initial_date": "2027-01-05", "type": "datepicker"},
    }  # fmt: skip
    assert blocks[5] == {"type": "context", "elements": [{"type": "mrkdwn", "text": ":x: Too late"}]}
    stage = blocks[6]["element"]
    assert (stage["initial_option"]["value"], [option["value"] for option in stage["options"]]) == (
        "Demo", ["Prospecting", "Demo", "Negotiation"]
    )  # fmt: skip
    assert blocks[7]["element"]["initial_value"] == "20000.00"
    assert (view.callback_id, view.private_metadata, view.submit.text) == (DEAL_UPDATE_VIEW, '{"deal_id": 1}', "Save to CRM")  # type: ignore[union-attr]


def test_the_answer_lists_what_changed_and_the_gaps_closed() -> None:
    result = WriteOutcome(
        "Globex", (("Close date", "2026-11-20", "2026-12-15"),), ("close date Nov 20 has passed",), ("no activity for 20 days",),
        "https://crm.example.com/x",
    )  # fmt: skip
    [block] = outcome_view(result).to_dict()["blocks"]
    assert block["text"]["text"] == (
        ":white_check_mark: Saved <https://crm.example.com/x|Globex> to the CRM.\n\n*Changed*\n• Close date: 2026-11-20 → "
        "2026-12-15\n\n*Gaps closed*\n• close date Nov 20 has passed\n\n*Still open*\n• no activity for 20 days"
    )


def test_a_submission_is_read_by_field_and_errors_go_back_by_block() -> None:
    values = {
        DEAL_UPDATE_BLOCKS["next_step"][0]: {DEAL_UPDATE_BLOCKS["next_step"][1]: {"type": "plain_text_input", "value": "Call"}},
        DEAL_UPDATE_BLOCKS["close_date"][0]: {DEAL_UPDATE_BLOCKS["close_date"][1]: {"type": "datepicker", "selected_date": None}},
        DEAL_UPDATE_BLOCKS["stage"][0]: {
            DEAL_UPDATE_BLOCKS["stage"][1]: {"type": "static_select", "selected_option": {"value": "Demo"}}
        },
    }
    view = {"private_metadata": json.dumps({"deal_id": 7}), "state": {"values": values}}
    assert read_submission(view) == (7, {"next_step": "Call", "close_date": None, "stage": "Demo"})
    assert error_blocks({"amount": "Type a number.", GENERAL: "Nothing changed."}) == {
        "deal_update_amount": "Type a number.",
        "deal_update_next_step": "Nothing changed.",
    }


def test_myperf_offers_update_for_each_deal_it_lists() -> None:
    deal = DealFacts(
        "O2", "Globex expansion", Decimal("20000"), "USD", "Negotiation", False, False, dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        dt.date(2026, 11, 20), deal_id=42,
    )  # fmt: skip

    class Card:
        open_deal_count = 2
        adherence = 0.5
        deal_gaps = (DealGaps(deal, (GapReason("close_date_past", "close date Nov 20 has passed"),)),)

    blocks = [block.to_dict() for block in process_blocks(Card())]  # type: ignore[arg-type]
    assert blocks[1] == {
        "type": "actions",
        "elements": [{"type": "button", "action_id": DEAL_UPDATE, "value": "42", "text": plain("Update Globex expansion…")}],
    }
    assert update_button(42).to_dict()["text"] == plain("Update…")
