"""The back-test as a terminal shows it: `coachbot playbook backtest`, `playbook preview` and the demo print these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.coaching.backtest import MIN_DEALS, Backtest, Period, RuleFigures

BACKTEST_WEEKS = 13  # the default back-test period, and the one the preview's and the demo's figures cover


def default_period(now: dt.datetime) -> Period:
    """The last BACKTEST_WEEKS weeks, up to today (UTC)."""
    today = now.astimezone(dt.UTC).date()
    return Period(today - dt.timedelta(weeks=BACKTEST_WEEKS) + dt.timedelta(days=1), today)


def _day(day: object) -> str:
    return f"{day:%a %b} {day.day} {day:%Y}"  # type: ignore[attr-defined]


def backtest_heading(backtest: Backtest, label: str) -> Text:
    """What was replayed: the playbook, the period and how much history it covered."""
    period = backtest.period
    return Text(
        f"Back-test of {label}, {_day(period.start)} to {_day(period.end)} ({period.weeks} weeks): "
        f"{backtest.deals:,} deals open in the period, {backtest.closed:,} closed in it ({backtest.won:,} won), "
        f"{backtest.reps:,} reps, {backtest.rep_weeks:,} rep-weeks."
    )


def _won(won: int, closed: int) -> str:
    return f"{won}/{closed} ({won / closed:.0%})" if closed else "none closed"


def _difference(figures: RuleFigures) -> str:
    difference = figures.difference
    if difference is None:
        return ""
    return f"{round(difference * 100):+d}" + ("" if figures.enough_deals else " (few)")


def _days(figures: RuleFigures) -> str:
    return "" if figures.median_days_open is None else f"{figures.median_days_open:g}"


def figures_line(figures: RuleFigures) -> str:
    """One rule's figures in a sentence (the preview prints these for the rules it shows)."""
    if not figures.judged:
        return f"{figures.rule}: {figures.replay}: {figures.note}"
    days = "" if figures.median_days_open is None else f", median {_days(figures)} days open"
    difference = ""
    if figures.difference is not None:
        difference = f", {round(figures.difference * 100):+d} points" + ("" if figures.enough_deals else " (few deals)")
    return (
        f"{figures.rule} ({figures.replay}): {figures.per_rep_week:.2f} gaps a rep a week{days}; "
        f"won with the gap {_won(figures.won_with, figures.closed_with)}, "
        f"without {_won(figures.won_without, figures.closed_without)}{difference}"
    )


_COLUMNS = ("opened", "still open", "a rep a week", "days open", "won with gap", "won without", "diff (pts)")


def backtest_table(backtests: Sequence[Backtest], labels: Sequence[str]) -> Table:
    """Per rule, its figures; with two playbooks, a row for each under the other (labelled by `labels`)."""
    table = Table(box=None, padding=(0, 1))
    table.add_column("rule")
    if len(backtests) > 1:
        table.add_column("playbook")
    table.add_column("replay")
    for name in _COLUMNS:
        table.add_column(name, justify="left" if name.startswith("won") else "right")
    for position, figures in enumerate(backtests[0].rules):
        rows = [(label, backtest.rules[position]) for label, backtest in zip(labels, backtests)]
        if not any(mine.judged for _, mine in rows):
            rows = [("", rows[0][1])]  # skipped alike in every playbook: one row says so
        for label, mine in rows:
            cells = [
                f"{mine.opened:,}", f"{mine.still_open:,}", f"{mine.per_rep_week:.2f}, max {mine.max_in_a_rep_week}",
                _days(mine), _won(mine.won_with, mine.closed_with), _won(mine.won_without, mine.closed_without),
                _difference(mine),
            ] if mine.judged else [""] * len(_COLUMNS)  # fmt: skip
            lead = [figures.rule] + ([label] if len(backtests) > 1 else [])
            table.add_row(*lead, mine.replay, *cells)
    return table


def backtest_notes(backtest: Backtest) -> list[Text]:
    """How each rule was replayed, and how to read the win rates."""
    lines = [Text(f"  {figures.rule}: {figures.replay}: {figures.note}") for figures in backtest.rules]
    lines += [
        Text("Won with gap / without: deals closed in the period that had the gap at some time while open / never."),
        Text("diff: the win rate with the gap minus without, in points; days open: the median, of gaps resolved."),
        Text(f"(few): fewer than {MIN_DEALS} closed deals on a side, too few to go by."),
    ]
    return lines


def print_backtest(out: Console, backtests: Sequence[Backtest], labels: Sequence[str]) -> None:
    """The heading of each back-test, their figures side by side, and how each rule was replayed."""
    if len(backtests) == 1:
        out.print(backtest_heading(backtests[0], labels[0]), highlight=False)
        out.print(backtest_table(backtests, labels))
    else:
        letters = [chr(ord("A") + number) for number in range(len(backtests))]
        for letter, backtest, label in zip(letters, backtests, labels):
            out.print(Text(f"{letter}: ") + backtest_heading(backtest, label), highlight=False)
        out.print(backtest_table(backtests, letters))
    out.print(*backtest_notes(backtests[0]), sep="\n", highlight=False)
    for letter, backtest in zip(("B", "C"), backtests[1:]):
        for first, mine in zip(backtests[0].rules, backtest.rules):
            if mine.replay != first.replay:
                out.print(Text(f"  {letter}: {mine.rule}: {mine.replay}: {mine.note}"), highlight=False)
