"""Charts for digests, drawn with matplotlib off-screen (Agg) into PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot
import matplotlib.pyplot as plt

NUMBER = "#5b2a86"
PROJECTED = "#c9b8e8"
PROCESS = "#2a7f62"
FIX = "#d08c2b"


@dataclass(frozen=True)
class ChartLine:
    """One bar of the chart: a rep (or a team), the number and the process. Shares 0..1; None: not known."""

    name: str
    attained: float | None
    projected: float | None
    adherence: float | None
    hours_to_fix: float | None


def number_and_process_chart(lines: Sequence[ChartLine], expected: float, title: str) -> bytes:
    """The number beside the process, one row a rep: attainment and projection (with a line where
    today's pace should be), process adherence, and the median time to fix this week."""
    height = max(2.8, 0.35 * len(lines) + 1.4)
    figure, (number, process, fix) = plt.subplots(
        1, 3, figsize=(10, height), dpi=110, sharey=True, gridspec_kw={"width_ratios": [2.2, 1, 1]}
    )
    try:
        rows = range(len(lines))
        number.barh(rows, [(line.projected or 0) * 100 for line in lines], color=PROJECTED, label="projected")
        number.barh(rows, [(line.attained or 0) * 100 for line in lines], color=NUMBER, height=0.5, label="closed-won")
        number.axvline(expected * 100, color="#d9534f", linestyle="--", linewidth=1, label="on pace today")
        number.axvline(100, color="#333333", linewidth=0.8)
        number.set_yticks(list(rows), labels=[line.name for line in lines])
        number.invert_yaxis()
        number.set_xlabel("% of quota")
        number.set_title("The number", loc="left", fontsize=10)
        process.barh(rows, [(line.adherence or 0) * 100 for line in lines], color=PROCESS)
        process.set_xlim(0, 100)
        process.set_xlabel("% of open deals with no gap")
        process.set_title("Process adherence", loc="left", fontsize=10)
        fix.barh(rows, [line.hours_to_fix or 0 for line in lines], color=FIX)
        fix.set_xlabel("hours (median, this week)")
        fix.set_title("Time to fix", loc="left", fontsize=10)
        # A rep with nothing to measure reads "–", not a bar of zero that looks like a perfect score.
        for axes, values in ((process, [line.adherence for line in lines]), (fix, [line.hours_to_fix for line in lines])):
            for row, value in zip(rows, values, strict=True):
                if value is None:
                    axes.text(0, row, " –", va="center", fontsize=8, color="#666666")
        for axes in (number, process, fix):
            axes.spines[["top", "right"]].set_visible(False)
        figure.suptitle(title, x=0.01, ha="left", fontsize=11)
        # Below the axes, so it never covers a bar.
        number.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 * 3 / height), ncol=3, fontsize=8, frameon=False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def backtest_chart(rules: Sequence[str], series: Sequence[tuple[str, Sequence[float | None], Sequence[float | None]]]) -> bytes:
    """Grouped bars per rule: the win rate of closed deals with the gap and without it, for each playbook
    (`series` holds a label, the rates with and the rates without, in `rules` order; None draws no bar)."""
    height = max(2.5, 0.5 * len(rules) * len(series) + 1.4)
    figure, axes = plt.subplots(figsize=(7, height), dpi=110)
    try:
        bar = 0.8 / (2 * len(series))
        colours = (("#5b2a86", "#c9b8e8"), ("#1f6f8b", "#a8d5e2"))
        for number, (label, with_gap, without) in enumerate(series):
            dark, light = colours[number % len(colours)]
            for offset, rates, colour, what in ((0, with_gap, dark, "with the gap"), (1, without, light, "without")):
                rows = [position + (2 * number + offset) * bar for position in range(len(rules))]
                axes.barh(rows, [(rate or 0) * 100 for rate in rates], height=bar, color=colour, label=f"{label}: {what}")
        axes.set_yticks([position + bar * (len(series) - 0.5) for position in range(len(rules))], labels=list(rules))
        axes.invert_yaxis()
        axes.set_xlim(0, 100)
        axes.set_xlabel("% of closed deals won")
        axes.set_title("Win rate with and without each rule's gap", loc="left", fontsize=11)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 * 3 / height), ncol=2, fontsize=8, frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
