"""The leaderboard's blocks: the team's board (with money only when the team allows it) and a rep's own place."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

from bot.blocks import to_dicts
from bot.blocks.leaderboard import leaderboard_message, my_rank_blocks, ordinal
from bot.coaching.leaderboard import Leaderboard, Money, MyRank, RepDiscipline, rank_reps
from bot.coaching.words import CURRENCY_SYMBOLS

UNTIL = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)
# Any currency symbol, or a number written like an amount (1,000 or more, with a thousands comma).
MONEY = re.compile("|".join(re.escape(symbol) for symbol in CURRENCY_SYMBOLS.values()) + r"|\d{1,3}(,\d{3})+|quota|won\b")


def reps(with_money: bool) -> list[RepDiscipline]:
    def money(attainment: float | None, won: str) -> Money | None:
        return Money(attainment, Decimal(won), "USD") if with_money else None

    return [
        RepDiscipline(1, "Riley <Rep>", 1.0, 5.4, 3, 0.12, money(0.4, "40000")),
        RepDiscipline(2, "Sam Seller", 0.5, 60.0, 1, -0.05, money(None, "12500")),
        RepDiscipline(3, "Nia New", None, None, 0, None, money(None, "0")),
    ]


def board(with_money: bool, top: int = 10) -> Leaderboard:
    return Leaderboard(
        team_name="Mia Manager", since=UNTIL - dt.timedelta(days=7), until=UNTIL, until_day=dt.date(2026, 11, 30),
        week_of=dt.date(2026, 11, 30), standings=rank_reps(reps(with_money)), top=top, show_money=with_money,
    )  # fmt: skip


def everything(message: object) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_the_board_lists_reps_best_first_with_their_three_measures_and_no_money_by_default() -> None:
    message = leaderboard_message(board(with_money=False))
    assert to_dicts(message.blocks) == [
        {"type": "header", "text": {"type": "plain_text", "text": "Discipline leaderboard · Mia Manager's team", "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            "The 7 days to Mon, Nov 30 · ranked by process adherence, time to fix and goals moved "
            "(the average of the three places)"
        )}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "*1.* Riley &lt;Rep&gt; · adherence 100% · 3 gaps fixed, median 5h · goals +12 pts\n"
            "*2.* Sam Seller · adherence 50% · 1 gap fixed, median 2.5 days · goals -5 pts"
        )}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Nothing to rank yet: Nia New"}]},
    ]  # fmt: skip
    assert message.text == "Discipline leaderboard, Mia Manager's team, the 7 days to Nov 30: 1. Riley <Rep>, 2. Sam Seller"
    assert MONEY.search(everything(to_dicts(message.blocks)) + message.text) is None


def test_a_team_that_allows_money_sees_attainment_and_closed_won_beside_each_rep() -> None:
    message = leaderboard_message(board(with_money=True))
    lines = to_dicts(message.blocks)[2]["text"]["text"].split("\n")
    assert lines == [
        "*1.* Riley &lt;Rep&gt; · adherence 100% · 3 gaps fixed, median 5h · goals +12 pts · 40% of quota ($40,000 won)",
        "*2.* Sam Seller · adherence 50% · 1 gap fixed, median 2.5 days · goals -5 pts · $12,500 won (no quota)",
    ]
    assert MONEY.search(everything(to_dicts(message.blocks))) is not None


def test_a_board_shows_its_top_and_counts_the_rest() -> None:
    message = leaderboard_message(board(with_money=False, top=1))
    assert to_dicts(message.blocks)[2]["text"]["text"] == (
        "*1.* Riley &lt;Rep&gt; · adherence 100% · 3 gaps fixed, median 5h · goals +12 pts\n…and 1 more ranked"
    )


def test_a_rep_sees_their_own_place_and_figures_only() -> None:
    standings = rank_reps(reps(with_money=False))
    blocks = to_dicts(my_rank_blocks(MyRank(standings[1], of=2)))
    assert blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": (
        "*Process discipline*\nYou rank 2nd of 2 on process discipline this week.\n"
        "adherence 50% · 1 gap fixed, median 2.5 days · goals -5 pts"
    )}}]  # fmt: skip
    assert "Riley" not in everything(blocks)
    assert to_dicts(my_rank_blocks(MyRank(standings[2], of=2)))[0]["text"]["text"] == (
        "*Process discipline*\nNothing to rank you on this week yet: no open deals, no gap fixed and no goal.\n"
        "no open deals · no gap fixed · no goals"
    )
    assert my_rank_blocks(None) == []


def test_ordinals_read_as_english() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th",
    ]  # fmt: skip
