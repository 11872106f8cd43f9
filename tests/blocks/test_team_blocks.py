"""The team view message: exact blocks for a known team, and Slack's limits for teams of 200 and more."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.blocks import to_dicts
from bot.blocks.team import LEGEND, team_blocks, team_row_line, team_text, teamperf_unknown_blocks
from bot.coaching.team import TeamPerformance, TeamRow, attention_order, team_totals
from bot.periods import Period

Q4 = Period("quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "Q4 2026", "America/New_York")


def row(name: str, **fields: object) -> TeamRow:
    values: dict[str, object] = {
        "person_id": 1, "name": name, "currency": "USD", "quota": Decimal(100000), "won_amount": Decimal(90000),
        "attainment": 0.9, "pace": 1.5, "projected_amount": Decimal(120000), "projected_attainment": 1.2, "open_deals": 4,
        "deals_with_gaps": 0, "adherence": 1.0, "overdue_actions": 0, "plan": None, "attention": (),
    }  # fmt: skip
    values.update(fields)
    return TeamRow(**values)  # type: ignore[arg-type]


def team(rows: list[TeamRow]) -> TeamPerformance:
    ordered = sorted(rows, key=attention_order)
    return TeamPerformance("Mia Manager", Q4, 0.6, tuple(ordered), team_totals(ordered, "USD"))


RILEY = row(
    "Riley Rep", won_amount=Decimal(40000), attainment=0.4, pace=0.66, projected_amount=Decimal(86000), projected_attainment=0.86,
    open_deals=2, deals_with_gaps=1, adherence=0.5, attention=("pace 66%", "only 50% of open deals follow the process"),
)  # fmt: skip
SAM = row(
    "Sam Rep", currency="EUR", quota=Decimal(80000), won_amount=Decimal(20000), attainment=0.25, pace=0.41,
    projected_amount=Decimal(37000), projected_attainment=0.4625, open_deals=3, overdue_actions=1, plan="open",
    attention=("projected 46% of quota", "pace 41%", "1 overdue action"),
)  # fmt: skip
TESS = row(
    "Tess Rep", quota=None, won_amount=Decimal(8000), attainment=None, pace=None, projected_amount=Decimal(10250),
    projected_attainment=None, open_deals=1, deals_with_gaps=1, adherence=0.0, plan="proposed",
    attention=("only 0% of open deals follow the process", "a recovery plan waits for you to open it"),
)  # fmt: skip
UMA = row("Uma Rep & Co", open_deals=0, adherence=None)


def test_the_whole_team_message() -> None:
    blocks = to_dicts(team_blocks(team([UMA, RILEY, TESS, SAM])))
    assert blocks == [
        {"type": "header", "text": {"type": "plain_text", "text": "Q4 2026 team · Mia Manager", "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Q4 2026*, 60% gone · *4 reps*, 3 need attention\n"
                "Team (the 2 of 4 reps with a quota in USD): *$130,000* won of $200,000 quota (*65%*), projected *103%*\n"
                "Process: 67% of 6 open deals have no gap",
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Who needs attention*\n"
                "• *Sam Rep*: projected 46% of quota; pace 41%; 1 overdue action\n"
                "• *Riley Rep*: pace 66%; only 50% of open deals follow the process\n"
                "• *Tess Rep*: only 0% of open deals follow the process; a recovery plan waits for you to open it",
            },
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "```rep                  won  pace  proj process gaps  od plan\n"
                "Sam Rep              25%   41%   46%    100%    0   1 plan\n"
                "Riley Rep            40%   66%   86%     50%    1\n"
                "Tess Rep               –     –     –      0%    1     plan?\n"
                "Uma Rep &amp; Co         90%  150%  120%       –    –```",
            },
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": LEGEND}]},
    ]
    assert team_text(team([UMA, RILEY, TESS, SAM])) == "Q4 2026, your team: 4 reps, 3 need attention."


def test_a_team_nobody_worries_about_says_so() -> None:
    blocks = to_dicts(team_blocks(team([UMA])))
    assert blocks[1]["text"]["text"] == (
        "*Q4 2026*, 60% gone · *1 rep*, 0 need attention\nTeam: *$90,000* won of $100,000 quota (*90%*), projected *120%*"
    )
    assert blocks[2]["text"]["text"] == "*Nobody needs special attention.* :tada:"


def test_an_empty_team_is_told_how_reps_get_there() -> None:
    assert to_dicts(team_blocks(team([]))) == [
        {"type": "header", "text": {"type": "plain_text", "text": "Q4 2026 team · Mia Manager", "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "No reps on your team in coachbot yet. Once your admin imports the org file with you as "
                "their manager or coach, they show here.",
            },
        },
    ]


def assert_within_slack_limits(blocks: list[dict]) -> None:  # type: ignore[type-arg]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert all(len(field["text"]) <= 2000 for field in block.get("fields", []))
        if block["type"] == "context":
            assert all(len(element["text"]) <= 3000 for element in block["elements"])


def big_team(size: int, name: str = "Rep {n:03d} with a long name") -> TeamPerformance:
    rows = [
        row(name.format(n=n), person_id=n, attainment=n / size, projected_attainment=n / size, pace=n / size,
            attention=("pace low", "projected low") if n % 3 == 0 else ())
        for n in range(size)
    ]  # fmt: skip
    return team(rows)


def table_lines(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    lines = []
    for block in blocks:
        text = block.get("text", {}).get("text", "")
        if block["type"] == "section" and text.startswith("```"):
            lines.extend(text.strip("`").split("\n"))
    return [line for line in lines if not line.startswith("rep ")]


def test_a_team_of_200_fits_slacks_limits_and_shows_everyone() -> None:
    view = big_team(200)
    blocks = to_dicts(team_blocks(view))
    assert_within_slack_limits(blocks)
    assert len(table_lines(blocks)) == 200
    # Who needs attention leads the table; ten are named with reasons, the rest pointed to.
    assert table_lines(blocks)[0].startswith("Rep 000 with a lo…    0%")
    assert blocks[2]["text"]["text"].endswith("…and 57 more (see the table).")
    assert not any(block["type"] == "context" and "more rep" in block["elements"][0]["text"] for block in blocks)


def test_a_team_of_1000_is_summarised_after_the_200_who_matter_most() -> None:
    blocks = to_dicts(team_blocks(big_team(1000)))
    assert_within_slack_limits(blocks)
    assert len(table_lines(blocks)) == 200
    # 334 need attention (every third rep): all of them would not fit, the rest are counted.
    assert blocks[-2]["elements"][0]["text"] == "…and 800 more reps, 134 of them needing attention."


@pytest.mark.parametrize(
    "name", ["<@U1> & <!channel> {n}", "Two\nLines\t{n}", "```{n} escape```", "&" * 40 + "{n}", "x" * 500 + "{n}"]
)
def test_hostile_names_cannot_break_the_table_or_its_limits(name) -> None:  # type: ignore[no-untyped-def]
    blocks = to_dicts(team_blocks(big_team(200, name)))
    assert_within_slack_limits(blocks)
    sections = [block["text"]["text"] for block in blocks if block["type"] == "section"]
    for text in sections:
        assert "<!channel>" not in text and "<@U1>" not in text
        if text.startswith("```"):
            assert text.count("```") == 2
    assert len(table_lines(blocks)) == 200


def test_a_row_escapes_and_clips_the_name() -> None:
    assert team_row_line(row("Zoë <Zed> `Zimmerman-Zhang`")) == "Zoë &lt;Zed&gt; 'Zimmer…   90%  150%  120%    100%    0"


def test_hostile_command_text_is_shown_escaped_and_short() -> None:
    blocks = to_dicts(teamperf_unknown_blocks("<!channel> *bold* " + "x" * 100))
    assert blocks[0]["text"]["text"] == (
        "I don't understand “&lt;!channel&gt; *bold* xxxxxxxxxxxxxxxxxxxxx…”. Try a period (`week`, `month`, `quarter`, "
        "`year`), a rep (`@name` or their email), or both."
    )


def test_a_paused_rep_is_marked_in_the_team_table_and_the_digest_with_the_day_they_are_back() -> None:
    from bot.blocks.digest import _row as digest_line
    from bot.blocks.team import team_row_line

    paused = row("Riley Rep", paused_until=dt.date(2026, 12, 4))
    assert team_row_line(paused).endswith("paused to Dec 4")
    assert digest_line(paused).endswith("paused to Dec 4")
    assert "paused" not in team_row_line(row("Sam Seller"))
