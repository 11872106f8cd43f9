"""`coachbot demo` on any day of the year: a believable team, the right reps shown."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from bot.demo import DemoError, run_demo
from bot.settings import Settings


def demo_output(now: dt.datetime, database: Path | None = None, chart: Path | None = None) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    run_demo(Settings(), console, database, now=now, chart=chart)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC),  # the first hour of a quarter
        dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 20, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 8, 14, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC),  # the last hour of a year
    ],
)
def test_the_demo_shows_the_star_ahead_of_pace_and_the_new_hire_behind(now: dt.datetime) -> None:
    output = demo_output(now)
    assert "Org: 16 new, 0 changed, 0 unchanged people." in output
    assert "/myperf → Alex Rivera (ahead of pace), posted privately" in output
    assert "/myperf → Rowan Davis (behind pace), posted privately" in output
    assert "The number" in output and "Process:" in output and "Development" in output
    # The demo's sales leader over both managers gets the roll-up per team, then who needs attention across the org.
    assert "digest → Elena Vasquez, their managers' teams rolled up" in output
    assert "Your org, week of" in output and "12 reps in 2 teams." in output
    assert "team               won  pace  proj   win cycle cover | process   fix acted" in output
    assert any(line.startswith(("│ Jordan Brooks ", "│ Maya Chen ")) for line in output.splitlines())
    assert "Who needs coaching attention across the org" in output
    assert "/coach 1on1 @Rowan Davis → Jordan Brooks, posted privately" in output
    assert "1:1 agenda: Rowan Davis" in output and "Biggest process gaps, by money at stake" in output


def test_the_demo_will_not_overwrite_an_existing_file(tmp_path: Path) -> None:
    precious = tmp_path / "coachbot.db"
    precious.write_text("precious")
    with pytest.raises(DemoError, match="exists; the demo builds a fresh database and will not overwrite a file"):
        demo_output(dt.datetime(2026, 11, 25, tzinfo=dt.UTC), precious)
    assert precious.read_text() == "precious"


def test_the_demo_nudge_names_each_deal_links_it_and_offers_the_four_buttons() -> None:
    output = demo_output(dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC))
    nudges = output[output.index("nudge → ") : output.index("digest → ")]
    assert "[ Open in CRM ]  [ Update… ]  [ Snooze… ]  [ I fixed it ]" in nudges
    assert "Why: " in nudges and "Do: " in nudges and " in stage" in nudges and " at stake " in nudges
    assert "Open in CRM opens the deal's own page, e.g. https://crm.example.com/deals/" in output


def test_every_demo_deal_links_to_its_page_on_the_reserved_example_domain() -> None:
    from bot.crm.demo import DemoProvider

    deals = [
        deal for page in DemoProvider(dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)).fetch_deals(None) for deal in page.deals
    ]
    assert deals and all(deal.crm_url == f"https://crm.example.com/deals/{deal.crm_id}" for deal in deals)


def test_the_digests_count_the_gaps_the_demos_scan_just_opened_and_offer_a_1on1_agenda_per_rep(tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"
    output = demo_output(dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC), chart=chart)
    [opened] = re.findall(r"Gap scan: (\d+) process gaps opened on \d+ open deals\.", output)
    assert int(opened) > 0
    digest = output[output.index("digest → Maya Chen") : output.index("digest → Elena Vasquez")]
    leader = output[output.index("digest → Elena Vasquez") : output.index("/coach 1on1 @")]
    # The leader's org is every rep the scan looked at: the same gaps, counted a minute later.
    assert f"12 reps in 2 teams. Since last week: no process gaps fixed, {opened} opened." in leader
    [team_opened] = re.findall(r"Since last week: no process gaps fixed, (\d+) opened\.", digest)
    assert 0 < int(team_opened) < int(opened)
    # Each rep's week carries its 1:1 agenda button, drawn beside the section as Slack draws it.
    assert re.search(r"\d+ opened · process now \d+%  \[ 1:1 agenda: Casey \]", digest)
    assert digest.count("[ 1:1 agenda: ") == 6 and leader.count("[ 1:1 agenda: ") == 9
    png = chart.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert f"The digest's chart ({len(png):,} bytes) is saved to {chart}." in output.replace("\n", "")


def test_the_terminal_draws_a_sections_button_and_overflow_menu_beside_it() -> None:
    from bot.blocks.terminal import render_blocks

    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Casey*\nweek"},
         "accessory": {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "1:1 agenda: Casey"}}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Hi"},
         "accessory": {"type": "overflow", "action_id": "b", "options": []}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "plain"}},
    ]  # fmt: skip
    console = Console(file=io.StringIO(), width=60, color_system=None)
    console.print(render_blocks(blocks, "t"))
    lines = [line.strip("│ ").rstrip() for line in console.file.getvalue().splitlines()[1:-1]]  # type: ignore[attr-defined]
    assert lines == ["Casey", "week  [ 1:1 agenda: Casey ]", "Hi  [ ⋯ ]", "plain"]


def test_the_demo_replays_its_stage_history_with_the_playbook_and_shows_the_backtest_table() -> None:
    output = [line.rstrip() for line in demo_output(dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)).splitlines()]
    start = output.index(
        " rule                 replay        opened  still open  a rep a week  days open  won with gap  won without   diff (pts)"
    )
    assert output[start - 2].startswith(
        "Back-test of the default playbook, Thu Aug 27 2026 to Wed Nov 25 2026 (14 weeks): 320 deals"
    )
    assert (
        output[start + 5]
        == " stale_stage          replayed         160          34   0.95, max 5          4  29/76 (38%)   61/131 (47%)          -8"
    )
    assert (
        output[start + 7]
        == " missing_field        approximated       0           0   0.00, max 0             none closed   90/207 (43%)"
    )
    assert "Try a draft of your own against it: coachbot playbook backtest draft.yml --against your.yml" in output
