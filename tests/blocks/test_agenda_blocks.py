"""The 1:1 agenda's blocks: the coach's copy and the rep's, exact; the digest's button; Slack's limits."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from bot.blocks import to_dicts
from bot.blocks.agenda import MAX_LISTED, TEXT_LIMIT, agenda_message, one_on_one_button, one_on_one_copy_message, without_clicked
from bot.coaching.agenda import (
    Agenda,
    AgendaAction,
    AgendaCheckin,
    AgendaGap,
    AgendaGoal,
    AgendaPlan,
    AgendaSnooze,
    AgendaWin,
)
from bot.coaching.playbook import load_playbook
from bot.coaching.scorecard import DealFacts, QuotaSpan, build_scorecard
from bot.periods import period_containing
from bot.slack_ids import ONE_ON_ONE_HELD, ONE_ON_ONE_SEND
from tests.blocks.test_coaching_blocks import button, context, section

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
CREATED = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def card(quota: bool = True):  # type: ignore[no-untyped-def]
    """$30,000 won, a $50,000 Proposal closing this quarter: 30% of $100,000, pace 50%, projected 60%."""
    return build_scorecard(
        person_name="Riley Rep", period=period_containing("quarter", NOW, "America/New_York"),
        deals=[
            DealFacts("W1", "Wayne", Decimal("30000"), "USD", "Closed Won", True, True, CREATED, dt.date(2026, 11, 20)),
            DealFacts("O1", "Acme", Decimal("50000"), "USD", "Proposal", False, False, CREATED, dt.date(2026, 12, 15)),
        ],
        quota_spans=[QuotaSpan(dt.date(2026, 10, 1), dt.date(2027, 1, 1), Decimal("100000"), "USD")] if quota else [],
        playbook=load_playbook(), catalogue=(), default_currency="USD", now=NOW,
    )  # fmt: skip


def full_agenda(**changes: object) -> Agenda:
    agenda = Agenda(
        rep_id=7, rep_name="Riley Rep", coach_name="Mia Manager", today=dt.date(2026, 11, 25), since=dt.date(2026, 11, 18),
        last_held=dt.date(2026, 11, 18), card=card(),
        gaps=(
            AgendaGap("Acme <renewal>", None, Decimal("50000"), "USD", "Proposal", Decimal("30000"),
                      ("next step was due Nov 20", "30 days in Proposal (limit 21)")),
            AgendaGap("Globex", "https://crm.example.com/O2", Decimal("20000"), "USD", "Negotiation", Decimal("16000"),
                      ("close date Nov 20 has passed",)),
        ),
        more_gap_deals=2,
        goals=(
            AgendaGoal("Discovery", "Two contacts on every deal", dt.date(2026, 12, 18), 0.4),
            AgendaGoal("Pipeline", "Build Analytics pipeline", None, 0.25, "pipeline_in_line", 50000.0, "Analytics"),
        ),
        actions=(
            AgendaAction(12, "Call the Acme CFO", dt.date(2026, 11, 23), overdue=True),
            AgendaAction(13, "Send the Globex recap", dt.date(2026, 11, 27), overdue=False),
        ),
        other_open_actions=1,
        plan=AgendaPlan(dt.date(2026, 12, 31), Decimal("60000"), Decimal("45000"), "USD", (
            AgendaCheckin(dt.date(2026, 11, 24), None, None),
            AgendaCheckin(dt.date(2026, 11, 18), "at_risk", "Two deals *slipped*"),
        )),
        snoozes=(AgendaSnooze("Initech", "no dated next step", dt.date(2026, 12, 2), "Waiting on <budget>"),),
        wins=(AgendaWin("Wayne", Decimal("30000"), "USD", dt.date(2026, 11, 20), "Core"),),
    )  # fmt: skip
    return dataclasses.replace(agenda, **changes)  # type: ignore[arg-type]


BODY = [
    section(
        "*The number* (Q4 2026): *$30,000* closed-won of *$100,000* quota (*30%*)\n"
        "Pace *50%*: :red_circle: behind pace · projected *60%* ($60,000) · gap to quota $70,000"
    ),
    section("*Wins since Nov 18*: 1 deal, $30,000 :tada:\n• Wayne: $30,000 (Core), won Nov 20"),
    section(
        "*Biggest process gaps*, by money at stake\n"
        "• *Acme &lt;renewal&gt;*: $30,000 at stake ($50,000 in Proposal): next step was due Nov 20; 30 days in Proposal (limit 21)\n"
        "• <https://crm.example.com/O2|Globex>: $16,000 at stake ($20,000 in Negotiation): close date Nov 20 has passed\n"
        "…and 2 more deals with gaps"
    ),
    section(
        "*Goals*\n"
        "• *Discovery*: Two contacts on every deal · *40%* · due Fri, Dec 18\n"
        "• *Pipeline*: Build Analytics pipeline (open pipeline in Analytics, target 50,000) · *25%* · no due date"
    ),
    section(
        "*Actions due and overdue*\n"
        "• `#12` Call the Acme CFO · *overdue*, was due Mon, Nov 23\n"
        "• `#13` Send the Globex recap · due Fri, Nov 27\n"
        "1 other open action, due later or undated"
    ),
    section(
        "*Recovery plan* to Dec 31: gap $60,000, pipeline to add $45,000\nLast check-ins:\n"
        "• Nov 24: no answer yet\n• Nov 18: :large_yellow_circle: at risk: “Two deals *slipped*”"
    ),
    section("*Snoozed*\n• Initech (no dated next step) until Wed, Dec 2: “Waiting on &lt;budget&gt;”"),
]


def test_the_coachs_agenda_shows_every_part_privately_with_send_and_mark_held() -> None:
    message = agenda_message(full_agenda())
    assert message.text == "1:1 agenda for Riley Rep"
    assert to_dicts(message.blocks) == [
        {"type": "header", "text": {"type": "plain_text", "text": "1:1 agenda: Riley Rep", "emoji": True}},
        context("Since *Wed, Nov 18*, your last one-on-one with Riley · only you see this"),
        *BODY,
        {"type": "actions", "block_id": "one_on_one_buttons", "elements": [
            button("Send to Riley", ONE_ON_ONE_SEND, "7"), button("Mark held", ONE_ON_ONE_HELD, "7", "primary")]},
        context("*Send to Riley* sends them this agenda in a direct message. *Mark held* after you meet: "
                "the next agenda starts from that day."),
    ]  # fmt: skip


def test_the_reps_copy_is_the_same_agenda_from_their_coach_without_the_buttons() -> None:
    message = one_on_one_copy_message(agenda=full_agenda())
    assert message.text == "Your 1:1 agenda with Mia Manager"
    assert to_dicts(message.blocks) == [
        {"type": "header", "text": {"type": "plain_text", "text": "Your 1:1 agenda with Mia Manager", "emoji": True}},
        context("From Mia Manager, as of Wed, Nov 25 · since *Wed, Nov 18*, your last one-on-one"),
        *BODY,
    ]


def test_an_agenda_before_any_one_on_one_and_with_nothing_open_says_so() -> None:
    agenda = full_agenda(
        since=dt.date(2026, 11, 11), last_held=None, card=card(quota=False), gaps=(), more_gap_deals=0, goals=(), actions=(),
        other_open_actions=0, plan=None, snoozes=(), wins=(),
    )  # fmt: skip
    blocks = to_dicts(agenda_message(agenda).blocks)
    assert blocks[1] == context(
        "Since *Wed, Nov 11*: no one-on-one with Riley marked held yet, so the last 14 days · only you see this"
    )
    assert blocks[2:9] == [
        section("*The number* (Q4 2026): *$30,000* closed-won; no quota is set, so there is no pace or gap."),
        section("*Wins since Nov 11*: none yet."),
        section("*Biggest process gaps*, by money at stake: none open :white_check_mark:"),
        section("*Goals*: none open."),
        section("*Actions due and overdue*: none."),
        section("*Recovery plan*: none open."),
        section("*Snoozed*: nothing."),
    ]
    copy = to_dicts(one_on_one_copy_message(agenda=agenda).blocks)
    assert copy[1] == context("From Mia Manager, as of Wed, Nov 25 · since *Wed, Nov 11*, the last 14 days")


def test_long_lists_stop_at_ten_and_every_section_stays_within_slacks_limit() -> None:
    many_wins = tuple(AgendaWin("W" * 300, Decimal(1000), "USD", dt.date(2026, 11, 20), "L" * 300) for _ in range(25))
    many_actions = tuple(AgendaAction(n, "A" * 600, dt.date(2026, 11, 27), overdue=False) for n in range(25))
    agenda = full_agenda(wins=many_wins, actions=many_actions, other_open_actions=0)
    blocks = to_dicts(agenda_message(agenda).blocks)
    wins, actions = blocks[3]["text"]["text"], blocks[6]["text"]["text"]
    assert wins.splitlines()[-1] == "…and 15 more" and wins.count("\n• ") == MAX_LISTED
    assert actions.splitlines()[-1] == "…and 15 more" and actions.count("\n• ") == MAX_LISTED
    assert all(len(block["text"]["text"]) <= TEXT_LIMIT for block in blocks if block["type"] == "section")
    assert len(blocks) <= 50


def test_the_digests_button_opens_the_agenda_of_the_rep_it_sits_beside() -> None:
    assert one_on_one_button(7, "Riley Rep").to_dict() == button("1:1 agenda: Riley", "one_on_one_open:7", "7")


def test_a_click_takes_out_its_button_and_says_what_happened_in_its_place() -> None:
    blocks = to_dicts(agenda_message(full_agenda()).blocks)
    after_send = without_clicked(blocks, ONE_ON_ONE_SEND, "Sent to Riley.")
    assert after_send[:-3] == blocks[:-2]
    assert after_send[-3:] == [
        {"type": "actions", "block_id": "one_on_one_buttons", "elements": [button("Mark held", ONE_ON_ONE_HELD, "7", "primary")]},
        context("Sent to Riley."),
        blocks[-1],
    ]
    after_held = without_clicked(after_send, ONE_ON_ONE_HELD, "Held.")
    # The last button gone, its block goes too; each note stands where the button was.
    assert after_held[-3:] == [context("Held."), context("Sent to Riley."), blocks[-1]]
