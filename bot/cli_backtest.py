"""The back-test as a terminal shows it: `coachbot playbook backtest`, `playbook preview` and the demo print these."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from bot.coaching.backtest import MIN_DEALS, Backtest, RuleFigures


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
    return f"{won} of {closed} won ({won / closed:.0%})" if closed else "none closed"


def _difference(figures: RuleFigures) -> str:
    difference = figures.difference
    if difference is None:
        return ""
    points = round(difference * 100)
    return f"{points:+d} pts" + ("" if figures.enough_deals else " (few deals)")


def _noise(figures: RuleFigures) -> str:
    return f"{figures.per_rep_week:.2f} (max {figures.max_in_a_rep_week})"


def _days(figures: RuleFigures) -> str:
    return "" if figures.median_days_open is None else f"{figures.median_days_open:g}"


def figures_line(figures: RuleFigures) -> str:
    """One rule's figures in a sentence (the preview prints these for the rules it shows)."""
    if not figures.judged:
        return f"{figures.rule}: {figures.replay}: {figures.note}"
    days = "" if figures.median_days_open is None else f", median {_days(figures)} days open"
    difference = _difference(figures)
    return (
        f"{figures.rule} ({figures.replay}): {figures.per_rep_week:.2f} gaps a rep a week{days}; "
        f"with the gap {_won(figures.won_with, figures.closed_with)}, "
        f"without {_won(figures.won_without, figures.closed_without)}" + (f", {difference}" if difference else "")
    )


def backtest_table(backtests: Sequence[Backtest], labels: Sequence[str]) -> Table:
    """Per rule, each playbook's figures side by side (one playbook: its figures alone)."""
    table = Table(box=None, padding=(0, 2))
    table.add_column("rule")
    table.add_column("replay")
    prefix = len(backtests) > 1
    for label in labels:
        lead = f"{label}: " if prefix else ""
        for name in ("opened (still open)", "a rep a week", "median days open", "with the gap", "without", "difference"):
            table.add_column(lead + name, justify="right" if name not in ("with the gap", "without") else "left")
    for position, figures in enumerate(backtests[0].rules):
        row = [figures.rule, figures.replay if figures.replay != "off" else _first_judged(backtests, position)]
        for backtest in backtests:
            mine = backtest.rules[position]
            if mine.judged:
                row += [
                    f"{mine.opened:,} ({mine.still_open:,})", _noise(mine), _days(mine),
                    _won(mine.won_with, mine.closed_with), _won(mine.won_without, mine.closed_without), _difference(mine),
                ]  # fmt: skip
            else:
                row += ["off" if mine.replay == "off" else "", "", "", "", "", ""]
        table.add_row(*row)
    return table


def _first_judged(backtests: Sequence[Backtest], position: int) -> str:
    statuses = [backtest.rules[position].replay for backtest in backtests]
    return next((status for status in statuses if status != "off"), "off")


def backtest_notes(backtest: Backtest) -> list[Text]:
    """How each rule was replayed, and how to read the win rates."""
    lines = [Text(f"  {figures.rule}: {figures.replay}: {figures.note}") for figures in backtest.rules]
    lines.append(
        Text(
            "Win rates are of deals closed in the period, with the gap at any time while open or never; "
            f"a difference from fewer than {MIN_DEALS} closed deals on either side is marked (few deals)."
        )
    )
    return lines
