"""The playbook's `leaderboard` section: off by default, opted into per team, every mistake named with its line."""

from __future__ import annotations

from importlib import resources

import pytest

from bot.coaching.playbook import LeaderboardSettings, PlaybookError, load_playbook, parse_playbook
from bot.coaching.rescan import playbook_fingerprint

DEFAULT = resources.files("bot.coaching").joinpath("default_playbook.yml").read_text("utf-8")


def with_sections(teams: str, leaderboard: str = "") -> str:
    """The default playbook with these `teams`, and this `leaderboard` section in place of its own (the last one)."""
    text = DEFAULT.replace("teams: {}", teams)
    text = text[: text.index("\nleaderboard:\n") + 1]
    return text + (leaderboard + "\n" if leaderboard else "")


def errors(text: str) -> list[str]:
    with pytest.raises(PlaybookError) as raised:
        parse_playbook(text, "pb.yml")
    return list(raised.value.errors)


def line_of(text: str, needle: str) -> int:
    lines = enumerate(text.splitlines(), start=1)
    return next(number for number, line in lines if needle in line and not line.lstrip().startswith("#"))


def test_the_default_playbook_has_no_leaderboard() -> None:
    playbook = load_playbook()
    assert playbook.leaderboard == LeaderboardSettings(enabled=False, where="digest", channel=None, show_money=False, top=10)
    assert playbook.leaderboard_for("anyone@example.com").enabled is False


def test_a_team_opts_in_over_the_playbooks_defaults_and_other_teams_stay_out() -> None:
    text = with_sections(
        "teams:\n  Mia@Example.com:\n    leaderboard: {enabled: true, where: channel, channel: C0123ABCD}\n"
        "  leo@example.com:\n    rules: {no_activity: {days: 7}}",
        "leaderboard: {top: 5, show_money: true}",
    )
    playbook = parse_playbook(text)
    assert playbook.leaderboard_for("mia@example.com") == LeaderboardSettings(
        enabled=True, where="channel", channel="C0123ABCD", show_money=True, top=5
    )
    assert playbook.leaderboard_for("leo@example.com") == LeaderboardSettings(show_money=True, top=5)
    assert playbook.leaderboard_for("nobody@example.com").enabled is False


def test_every_team_can_be_opted_in_at_once_and_one_opt_out() -> None:
    text = with_sections("teams:\n  leo@example.com:\n    leaderboard: {enabled: false}", "leaderboard: {enabled: true}")
    playbook = parse_playbook(text)
    assert playbook.leaderboard_for("mia@example.com") == LeaderboardSettings(enabled=True)
    assert playbook.leaderboard_for("leo@example.com").enabled is False


def test_each_mistake_in_a_leaderboard_is_named_with_its_line() -> None:
    text = with_sections(
        "teams:\n  mia@example.com:\n    leaderboard:\n      enabled: yes please\n      where: chat\n"
        "      channel: '#sales'\n      top: 0\n      colour: red\n      show_money: 1",
        "leaderboard: [on]",
    )
    assert errors(text) == [
        f"pb.yml line {line_of(text, 'enabled: yes please')}: team mia@example.com: leaderboard: `enabled` must be true or false, not 'yes please'",
        f"pb.yml line {line_of(text, 'where: chat')}: team mia@example.com: leaderboard: `where` must be channel or digest, not 'chat'",
        f"pb.yml line {line_of(text, 'channel:')}: team mia@example.com: leaderboard: `channel` must be a Slack channel id like "
        "C0123456789 (the channel's details show it at the bottom), not '#sales'; invite coachbot to the channel too",
        f"pb.yml line {line_of(text, 'top: 0')}: team mia@example.com: leaderboard: `top` must be a whole number from 1 to 50",
        f"pb.yml line {line_of(text, 'colour')}: team mia@example.com: leaderboard: `colour` is unknown "
        "(known: enabled, where, channel, show_money, top)",
        f"pb.yml line {line_of(text, 'show_money: 1')}: team mia@example.com: leaderboard: `show_money` must be true or false, not 1",
        f"pb.yml line {line_of(text, 'leaderboard: [on]')}: `leaderboard` must be a mapping, like "
        "{enabled: true, where: channel, channel: C0123456789}",
    ]  # fmt: skip


def test_a_board_posted_in_a_channel_needs_a_channel_of_its_own_or_the_playbooks() -> None:
    text = with_sections("teams:\n  mia@example.com:\n    leaderboard: {enabled: true, where: channel}")
    assert errors(text) == [
        f"pb.yml line {line_of(text, 'where: channel')}: team mia@example.com: leaderboard: `where: channel` needs a "
        "`channel`, like C0123456789"
    ]
    shared = with_sections(
        "teams:\n  mia@example.com:\n    leaderboard: {enabled: true, where: channel}", "leaderboard: {channel: G0SALES01}"
    )
    assert parse_playbook(shared).leaderboard_for("mia@example.com").channel == "G0SALES01"
    alone = with_sections("teams: {}", "leaderboard: {enabled: true, where: channel}")
    assert errors(alone) == [
        f"pb.yml line {line_of(alone, 'leaderboard: {enabled')}: leaderboard: `where: channel` needs a `channel`, like C0123456789"
    ]


def test_changing_a_leaderboard_does_not_make_the_gap_scan_judge_every_deal_again() -> None:
    rules = "teams:\n  mia@example.com:\n    rules: {no_activity: {days: 7}}"
    board = rules + "\n    leaderboard: {enabled: true, show_money: true}"
    assert playbook_fingerprint(parse_playbook(with_sections(rules))) == playbook_fingerprint(
        parse_playbook(with_sections(board, "leaderboard: {top: 3}"))
    )
