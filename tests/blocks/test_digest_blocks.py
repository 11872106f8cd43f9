"""The digest message: exact blocks for a known team and a known org, and Slack's limits for an org of 500 reps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.blocks import to_dicts
from bot.blocks.digest import digest_blocks, digest_text, rep_week_section, rep_week_text
from bot.coaching.digest import CheckinAnswer, Digest, GoalMove, RepWeek
from bot.coaching.discipline import Discipline
from bot.coaching.gaps import SnoozedGap
from bot.coaching.rollup import rollups
from bot.coaching.team import TeamPerformance, TeamRow, attention_order, team_totals
from bot.models import Person
from bot.periods import Period
from bot.slack_ids import ONE_ON_ONE_OPEN

Q4 = Period("quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "Q4 2026", "America/New_York")
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
WEEK_OF = dt.date(2026, 11, 23)


def row(person_id: int, name: str, **fields: object) -> TeamRow:
    values: dict[str, object] = {
        "person_id": person_id, "name": name, "currency": "USD", "quota": Decimal(100000), "won_amount": Decimal(90000),
        "attainment": 0.9, "pace": 1.5, "projected_amount": Decimal(120000), "projected_attainment": 1.2, "open_deals": 4,
        "deals_with_gaps": 0, "adherence": 1.0, "overdue_actions": 0, "plan": None, "attention": (),
    }  # fmt: skip
    values.update(fields)
    return TeamRow(**values)  # type: ignore[arg-type]


RILEY = row(
    1, "Riley Rep", won_amount=Decimal(40000), attainment=0.4, pace=0.66, projected_amount=Decimal(86000),
    projected_attainment=0.86, open_deals=2, deals_with_gaps=1, adherence=0.5,
    attention=("pace 66%", "only 50% of open deals follow the process"), closed_deals=2, won_deals=1, sales_cycle_days=32,
    pipeline_in_period=Decimal(70000),
)  # fmt: skip
ALEX = row(2, "Alex <Ace>", closed_deals=4, won_deals=3, sales_cycle_days=20, pipeline_in_period=Decimal(30000),
           paused_until=dt.date(2026, 12, 4))  # fmt: skip
SNOOZE = SnoozedGap(9, "Riley Rep", "riley@example.com", "Globex expansion", "next_step_missing", "no dated next step",
                    dt.date(2026, 12, 2), "Buyer on leave")  # fmt: skip
RILEY_WEEK = RepWeek(
    RILEY,
    Discipline(gaps_opened=1, hours_to_fix=(10.0, 30.0, 50.0), nudged=2, nudged_fixed_in_two_days=1, open_deals=2, deals_with_gaps=1),
    goals=(
        GoalMove("Cross-sell", "Analytics <pipeline>", "set", 0.25), GoalMove("Discovery", "Ask about budget", "achieved", 1.0, 0.8),
        GoalMove("Hygiene", "Dated next steps", "moved", 0.6, 0.35),
    ),
    checkins=(CheckinAnswer("at_risk", "Legal is\n slow", NOW - dt.timedelta(days=2)),),
    snoozes=(SNOOZE,),
)  # fmt: skip
ALEX_WEEK = RepWeek(ALEX, Discipline(open_deals=4))


def team(rows: list[TeamRow]) -> TeamPerformance:
    ordered = sorted(rows, key=attention_order)
    return TeamPerformance("Mia Manager", Q4, 0.6, tuple(ordered), team_totals(ordered, "USD"))


def sections(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [block["text"]["text"] for block in blocks if block["type"] == "section"]


def test_a_reps_week_says_what_changed_their_goals_check_in_and_snoozes_in_their_own_words() -> None:
    assert rep_week_text(RILEY_WEEK) == (
        "*Riley Rep*\n"
        "Since last week: 3 process gaps fixed (median 30 h to fix), 1 opened; 1 of 2 nudged fixed within two days (50%)"
        " · process now 50%\n"
        "Goals: set “Cross-sell: Analytics &lt;pipeline&gt;” (25%); achieved “Discovery: Ask about budget” (100%); "
        "“Hygiene: Dated next steps” 35% → 60%\n"
        "Plan check-in: :large_yellow_circle: at risk: “Legal is slow”\n"
        "Snoozed: Globex expansion, no dated next step · until Dec 2: “Buyer on leave”"
    )
    assert rep_week_text(ALEX_WEEK) == (
        "*Alex &lt;Ace&gt;* · paused to Dec 4\nSince last week: no process gaps fixed, 0 opened · process now 100%"
    )


def test_a_reps_week_can_carry_a_button_beside_it() -> None:
    from slack_sdk.models.blocks import ButtonElement

    section = rep_week_section(ALEX_WEEK, accessory=ButtonElement(text="1:1 agenda", action_id="example", value="2"))
    assert section.to_dict()["accessory"] == {
        "type": "button", "text": {"type": "plain_text", "text": "1:1 agenda", "emoji": True}, "action_id": "example", "value": "2",
    }  # fmt: skip


def test_a_managers_digest_has_the_team_table_then_each_reps_week() -> None:
    digest = Digest(
        "Mia Manager", WEEK_OF, team([RILEY, ALEX]),
        Discipline(gaps_opened=1, hours_to_fix=(10.0, 30.0, 50.0), nudged=2, nudged_fixed_in_two_days=1, open_deals=6,
                   deals_with_gaps=1),
        (SNOOZE,), (RILEY_WEEK, ALEX_WEEK),
    )  # fmt: skip
    blocks = to_dicts(digest_blocks(digest))
    assert digest_text(digest) == "Your team, week of Nov 23: 2 reps, 1 need attention."
    assert [block["type"] for block in blocks] == [
        "header", "section", "section", "section", "divider", "section", "context", "divider", "section", "section",
    ]  # fmt: skip
    assert sections(blocks)[0] == (
        "*Q4 2026*, 60% gone. *Since last week:* 3 process gaps fixed (median 30 h to fix), 1 opened; "
        "1 of 2 nudged fixed within two days (50%)."
    )
    assert sections(blocks)[-2:] == [rep_week_text(RILEY_WEEK), rep_week_text(ALEX_WEEK)]
    # Beside each rep's week, their 1:1 agenda (bot/blocks/agenda.py), one click away.
    assert [block["accessory"] for block in blocks[-2:]] == [
        {"type": "button", "text": {"type": "plain_text", "text": "1:1 agenda: Riley", "emoji": True},
         "action_id": f"{ONE_ON_ONE_OPEN}:1", "value": "1"},
        {"type": "button", "text": {"type": "plain_text", "text": "1:1 agenda: Alex", "emoji": True},
         "action_id": f"{ONE_ON_ONE_OPEN}:2", "value": "2"},
    ]  # fmt: skip
    assert all("accessory" not in block for block in blocks[:-2])


def test_a_leaders_digest_starts_with_each_teams_number_beside_its_process() -> None:
    mia = Person(id=10, name="Mia Manager")
    max_ = Person(id=11, name="Max Manager")
    olly = row(3, "Olly Rep", quota=Decimal(50000), won_amount=Decimal(25000), attainment=0.5, pace=0.82,
               projected_amount=Decimal(25000), projected_attainment=0.5, open_deals=0, adherence=None,
               attention=("projected 50% of quota",), closed_deals=1, won_deals=1, sales_cycle_days=42)  # fmt: skip
    rows = [RILEY, ALEX, olly]
    weeks = {1: RILEY_WEEK.discipline, 2: ALEX_WEEK.discipline, 3: Discipline(gaps_opened=2)}
    teams = rollups(sorted(rows, key=attention_order), {1: mia, 2: mia, 3: max_}, weeks, Q4, 0.6, "USD")
    org = team(rows)
    digest = Digest(
        "Dana Director", WEEK_OF, org, Discipline(gaps_opened=3, hours_to_fix=(10.0, 30.0, 50.0), nudged=2,
                                                  nudged_fixed_in_two_days=1, open_deals=6, deals_with_gaps=1),
        (SNOOZE,), tuple(RepWeek(r, weeks[r.person_id]) for r in org.rows), teams,
    )  # fmt: skip
    blocks = to_dicts(digest_blocks(digest))
    assert digest_text(digest) == "Your org, week of Nov 23: 3 reps in 2 teams, 2 need attention."
    assert [block["type"] for block in blocks] == [
        "header", "section", "section", "context", "divider", "section", "section", "section", "section", "section",
    ]  # fmt: skip
    assert blocks[0]["text"]["text"] == "Your org, week of Nov 23"
    texts = sections(blocks)
    assert texts[0] == (
        "*Q4 2026*, 60% gone. 3 reps in 2 teams. *Since last week:* 3 process gaps fixed (median 30 h to fix), 3 opened; "
        "1 of 2 nudged fixed within two days (50%)."
    )
    # Max's team: $25,000 of $50,000, nothing closing to cover the $25,000 gap. Mia's: $130,000 of
    # $200,000, won 4 of 6 in 22 days on average ((32 + 3 × 20) ÷ 4), $100,000 closing against a $70,000 gap.
    assert texts[1] == (
        "*By team*: the number | the process\n```"
        "team               won  pace  proj   win cycle cover | process   fix acted\n"
        "Max Manager        50%   83%   50%  100%  42 d  0.0x |       –     –     –\n"
        "Mia Manager        65%  108%  103%   67%  23 d  1.4x |     83%  30 h   50%```"
    )
    assert texts[2] == "*Who needs coaching attention across the org* (2)"
    # Most reasons first, as everywhere.
    assert texts[3].startswith("*Riley Rep* (Mia Manager): pace 66%; only 50% of open deals follow the process\n")
    assert texts[4] == (
        "*Olly Rep* (Max Manager): projected 50% of quota\nSince last week: no process gaps fixed, 2 opened · process now –"
    )
    assert (
        texts[5]
        == "*Snoozed by your reps* (1)\n• *Riley Rep* · Globex expansion, no dated next step · until Dec 2: “Buyer on leave”"
    )
    assert texts[6] == "*Paused* (1): Alex &lt;Ace&gt; (to Dec 4). They get no nudges until then."
    # Beside each rep who needs attention, their 1:1 agenda; nothing else carries a button.
    assert [block["accessory"] for block in blocks[6:8]] == [
        {"type": "button", "text": {"type": "plain_text", "text": "1:1 agenda: Riley", "emoji": True},
         "action_id": f"{ONE_ON_ONE_OPEN}:1", "value": "1"},
        {"type": "button", "text": {"type": "plain_text", "text": "1:1 agenda: Olly", "emoji": True},
         "action_id": f"{ONE_ON_ONE_OPEN}:3", "value": "3"},
    ]  # fmt: skip
    assert [index for index, block in enumerate(blocks) if "accessory" in block] == [6, 7]


def test_an_org_of_500_reps_in_50_teams_keeps_within_slacks_limits_and_says_where_to_see_the_rest() -> None:
    heads = {number: Person(id=10_000 + number, name=f"Manager {number:02d} " + "x" * 40) for number in range(50)}
    rows = [
        row(n, f"Rep {n:03d} " + "y" * 60, attainment=0.3, pace=0.5, projected_attainment=0.4, adherence=0.2,
            attention=("projected 40% of quota", "pace 50%", "only 20% of open deals follow the process", "2 overdue actions"),
            paused_until=dt.date(2026, 12, 4) if n % 5 == 0 else None)
        for n in range(500)
    ]  # fmt: skip
    long_reason = "z" * 400
    weeks = {r.person_id: Discipline(gaps_opened=3, hours_to_fix=(5.0, 7.0), nudged=3, nudged_fixed_in_two_days=2) for r in rows}
    snoozes = tuple(
        SnoozedGap(n, r.name, f"{n}@example.com", "D" * 300, "next_step_missing", "d" * 300, dt.date(2026, 12, 4), long_reason)
        for n, r in enumerate(rows)
    )
    org = team(rows)
    rep_weeks = tuple(
        RepWeek(r, weeks[r.person_id], goals=tuple(GoalMove("C" * 50, "g" * 200, "set", 0.1) for _ in range(5)),
                checkins=(CheckinAnswer("need_help", "n" * 500, NOW),), snoozes=snoozes[:6])
        for r in org.rows
    )  # fmt: skip
    teams = rollups(org.rows, {r.person_id: heads[r.person_id // 10] for r in rows}, weeks, Q4, 0.6, "USD")
    digest = Digest("Dana Director", WEEK_OF, org, Discipline(), snoozes, rep_weeks, teams)
    blocks = to_dicts(digest_blocks(digest))  # slack_sdk validates each block's shape and lengths here
    assert len(blocks) <= 50
    assert all(len(block["text"]["text"]) <= 3000 for block in blocks if block["type"] == "section")
    assert all(len(element["text"]) <= 3000 for block in blocks if block["type"] == "context" for element in block["elements"])
    assert len(blocks[0]["text"]["text"]) <= 150
    texts = [element["text"] for block in blocks if block["type"] == "context" for element in block["elements"]]
    shown = sum(1 for text in sections(blocks) if text.startswith("*Rep "))
    assert shown > 20
    assert (
        f"…and {500 - shown} more need attention: `/teamperf` lists everyone; `/teamperf @rep` shows one rep's full scorecard."
        in texts
    )
    # Every team made the roll-up (three tables of up to 20), and the snoozes and pauses are counted.
    assert sum(text.count("Manager ") for text in sections(blocks) if text.startswith(("*By team*", "```"))) == 50
    [snoozed] = [text for text in sections(blocks) if text.startswith("*Snoozed by your reps* (500)\n")]
    named = snoozed.count("\n• ")
    assert 0 < named < 10 and snoozed.endswith(f"\n…and {500 - named} more (each rep's Home lists theirs).")
    [paused] = [text for text in sections(blocks) if text.startswith("*Paused* (100): ")]
    assert paused.endswith(", and 80 more. They get no nudges until then.") and paused.count(" (to Dec 4)") == 20
    # A manager of 500 reps in one team (no managers under them) gets the table and as many reps' weeks as fit.
    flat = to_dicts(digest_blocks(Digest("Mia Manager", WEEK_OF, org, Discipline(), snoozes, rep_weeks)))
    assert len(flat) <= 50
    flat_texts = [element["text"] for block in flat if block["type"] == "context" for element in block["elements"]]
    assert "300 more reps not shown: `/teamperf` lists everyone; `/teamperf @rep` shows one rep's full scorecard." in flat_texts
    assert any(
        text.startswith("…and ")
        and text.endswith(" more reps: `/teamperf` lists everyone; `/teamperf @rep` shows one rep's full scorecard.")
        for text in flat_texts
    )


def test_the_chart_draws_each_reps_number_beside_their_process_and_a_leaders_teams() -> None:
    from bot.charts import ChartLine
    from bot.delivery.digests import chart_attachment, chart_lines

    manager = Digest("Mia Manager", WEEK_OF, team([RILEY, ALEX]), Discipline(), (), (RILEY_WEEK, ALEX_WEEK))
    # By name; Alex fixed nothing this week, so no time to fix (drawn as "–", not as a zero).
    assert chart_lines(manager) == [
        ChartLine("Alex <Ace>", 0.9, 1.2, 1.0, None), ChartLine("Riley Rep", 0.4, 0.86, 0.5, 30.0),
    ]  # fmt: skip
    mia, max_ = Person(id=10, name="Mia Manager"), Person(id=11, name="Max Manager")
    weeks = {1: RILEY_WEEK.discipline, 2: ALEX_WEEK.discipline}
    teams = rollups([RILEY, ALEX], {1: mia, 2: max_}, weeks, Q4, 0.6, "USD")
    leader = Digest("Dana Director", WEEK_OF, team([RILEY, ALEX]), Discipline(), (), (RILEY_WEEK, ALEX_WEEK), teams)
    assert chart_lines(leader) == [
        ChartLine("Max Manager", 0.9, 1.2, 1.0, None), ChartLine("Mia Manager", 0.4, 0.86, 0.5, 30.0),
    ]  # fmt: skip
    attachment = chart_attachment(leader)
    assert (attachment["filename"], attachment["title"]) == ("team-2026-11-23.png", "Team, week of Nov 23")
    assert attachment["png_base64"].startswith("iVBORw0KGgo")  # a PNG's first bytes, base64


def test_the_charts_pace_line_is_drawn_at_the_share_of_the_quarter_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.delivery import digests

    drawn: list[tuple[object, ...]] = []
    monkeypatch.setattr(digests, "number_and_process_chart", lambda *args: drawn.append(args) or b"\x89PNG")
    manager = Digest("Mia Manager", WEEK_OF, team([RILEY, ALEX]), Discipline(), (), (RILEY_WEEK, ALEX_WEEK))
    digests.chart_attachment(manager)
    # "on pace today" sits where closed-won would be if the quarter's quota came in evenly: 60% of it gone.
    assert drawn == [(digests.chart_lines(manager), 0.6, "Q4 2026, reps: the number beside the process")]
