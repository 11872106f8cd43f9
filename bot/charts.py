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
