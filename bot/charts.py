"""Charts for digests, drawn with matplotlib off-screen (Agg) into PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot
import matplotlib.pyplot as plt


def team_attainment_chart(
    names: Sequence[str], attained: Sequence[float], projected: Sequence[float], expected: float, title: str
) -> bytes:
    """Horizontal bars: attainment and projection per rep, a line where today's pace should be."""
    height = max(2.5, 0.35 * len(names) + 1.2)
    figure, axes = plt.subplots(figsize=(7, height), dpi=110)
    try:
        rows = range(len(names))
        axes.barh(rows, [p * 100 for p in projected], color="#c9b8e8", label="projected")
        axes.barh(rows, [a * 100 for a in attained], color="#5b2a86", height=0.5, label="closed-won")
        axes.axvline(expected * 100, color="#d9534f", linestyle="--", linewidth=1, label="on pace today")
        axes.axvline(100, color="#333333", linewidth=0.8)
        axes.set_yticks(list(rows), labels=list(names))
        axes.invert_yaxis()
        axes.set_xlabel("% of quota")
        axes.set_title(title, loc="left", fontsize=11)
        # Below the axes, so it never covers a bar.
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 * 3 / height), ncol=3, fontsize=8, frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
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
